/**
 * The OpenAPI 3.1 document of the REST backup API, generated from the same zod contract
 * the handlers validate with, so the document cannot drift from the code.
 */
import { z } from "zod";
import { backupListSchema, backupRecordSchema, createBackupInput, restoreInput, restoreOutcomeSchema } from "../backup/contract";
import { drillListSchema, drillRecordSchema } from "../backup/drill/contract";
import { planInput, planPatch, planRecordSchema } from "../backup/schedule/plans";
import { appVersion } from "../version";
import { browsePaths, browseSchemas } from "./openapi-browse";
import { encryptionPaths, encryptionSchemas } from "./openapi-encryption";
import { notifyPaths, notifySchemas } from "./openapi-notify";
import { offsitePaths, offsiteSchemas } from "./openapi-offsite";

const schema = (s: z.ZodType, io: "input" | "output" = "output") => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(s, { io, unrepresentable: "any" }) as Record<string, unknown>;
  return rest;
};

const errorBody = {
  type: "object",
  properties: {
    error: { type: "object", properties: { code: { type: "string" }, message: { type: "string" } }, required: ["code", "message"] },
    detail: { type: "string", description: "The same text as error.message, for clients written against the original BaluHost API" },
  },
  required: ["error", "detail"],
};

const downloadLink = {
  type: "object",
  properties: {
    url: { type: "string", description: "Relative to the server: /api/backups/{id}/download?token=..." },
    expires_at: { type: "string", format: "date-time" },
  },
  required: ["url", "expires_at"],
};

const errors = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((code) => [String(code), { description: ERROR_TEXT[code] ?? "Error", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } }]),
  );

const ERROR_TEXT: Record<number, string> = {
  400: "Invalid input (the message says which field and why)",
  401: "Not signed in and no valid API token (or an expired or invalid download link)",
  403: "Not an administrator, a monitoring-scope token outside health and metrics, or a cross-site request",
  404: "No such backup",
  405: "Method not allowed here (the Allow header lists the ones that are)",
  409: "Another backup or restore is in progress, or the backup is in a state that does not allow it",
  413: "Archive larger than the upload limit",
  415: "Wrong Content-Type",
  416: "Range not satisfiable",
  500: "The backup started but failed (the message says why)",
  422: "The archive is invalid, damaged, or from a newer version",
  507: "Not enough free space",
};

const idParam = { name: "id", in: "path", required: true, schema: { type: "integer", minimum: 1 } };
const json = (ref: string) => ({ "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } });

export function buildOpenApiDocument() {
  return {
    openapi: "3.1.0",
    info: { title: "BaluHost backup API", version: appVersion(), description:
        "All endpoints require an administrator: a session cookie or `Authorization: Bearer <token>`. " +
        "Only the download accepts a credential in the URL (`?token=`: a download link's ticket, or an API token). " +
        "Paths answer the same with a trailing slash. Errors are `{error: {code, message}, detail}`.",
    },
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer" },
        session: { type: "apiKey", in: "cookie", name: "next-auth.session-token" },
        downloadToken: { type: "apiKey", in: "query", name: "token", description: "Download route only: a ticket from download-link, or an API token" },
      },
      schemas: {
        Error: errorBody,
        DownloadLink: downloadLink,
        Backup: schema(backupRecordSchema),
        BackupList: schema(backupListSchema),
        CreateBackup: schema(createBackupInput, "input"),
        Restore: schema(restoreInput, "input"),
        RestoreOutcome: schema(restoreOutcomeSchema),
        Drill: schema(drillRecordSchema),
        DrillList: schema(drillListSchema),
        Plan: schema(planRecordSchema),
        PlanList: schema(z.object({ plans: z.array(planRecordSchema) })),
        CreatePlan: schema(planInput, "input"),
        UpdatePlan: schema(planPatch, "input"),
        ...notifySchemas(schema),
        ...browseSchemas(schema),
        ...offsiteSchemas(schema),
        ...encryptionSchemas(schema),
      },
    },
    security: [{ bearer: [] }, { session: [] }],
    paths: {
      "/api/backups": {
        get: { summary: "List backups", responses: { 200: { description: "Backups, newest first", content: json("BackupList") }, ...errors(401, 403) } },
        post: {
          summary: "Create a backup",
          description:
            "Answers when the backup has finished (201, status completed, Location of the backup). A backup that fails answers with " +
            "its error, `error.backup_id` and `error.backup` (the failed record). With `Prefer: respond-async` or `\"wait\": false` " +
            "it answers at once: 202, Location, the backup in_progress (poll GET /api/backups/{id} for progress). Without " +
            "backup_type the type follows the includes (database+files: full, one of them: database_only / files_only, config " +
            "alone: config_only). backup_path: empty, the backup folder, or a folder inside it (absolute or relative to it).",
          parameters: [{ name: "Prefer", in: "header", required: false, schema: { type: "string", example: "respond-async" } }],
          requestBody: { required: true, content: json("CreateBackup") },
          responses: {
            201: { description: "The finished backup", content: json("Backup") },
            202: { description: "Started (Prefer: respond-async or wait: false); in_progress", content: json("Backup") },
            ...errors(400, 401, 403, 409, 415, 500, 507),
          },
        },
      },
      "/api/backups/{id}": {
        parameters: [idParam],
        get: { summary: "Get a backup", responses: { 200: { description: "The backup", content: json("Backup") }, ...errors(400, 401, 403, 404) } },
        delete: { summary: "Delete a backup", responses: { 204: { description: "Deleted" }, ...errors(400, 401, 403, 404, 409) } },
      },
      "/api/backups/{id}/download": {
        parameters: [idParam],
        get: {
          summary: "Download the archive (Range, If-Range, If-None-Match, If-Modified-Since)",
          security: [{ bearer: [] }, { session: [] }, { downloadToken: [] }],
          responses: {
            200: {
              description: "The .tar.gz, with Content-Length",
              content: { "application/gzip": { schema: { type: "string", format: "binary" } } },
            },
            206: { description: "Partial content: Content-Length is the range's, Content-Range names it" },
            304: { description: "Not modified (If-None-Match or If-Modified-Since)" },
            ...errors(400, 401, 403, 404, 405, 409, 416),
          },
        },
        head: {
          summary: "The download's headers (Content-Length, ETag, Last-Modified) without the body",
          security: [{ bearer: [] }, { session: [] }, { downloadToken: [] }],
          responses: { 200: { description: "As GET, without the body" }, 206: { description: "As GET with Range" }, 304: { description: "Not modified" } },
        },
      },
      "/api/backups/{id}/download-link": {
        parameters: [idParam],
        post: {
          summary: "A short-lived URL that downloads this backup without a header (about 5 minutes, this backup only)",
          responses: { 201: { description: "The link", content: json("DownloadLink") }, ...errors(400, 401, 403, 404, 409) },
        },
      },
      "/api/backups/{id}/restore": {
        parameters: [idParam],
        post: {
          summary: "Restore a backup (confirm: true required)",
          description:
            "An encrypted backup (encryption not null) is opened with `passphrase` or `identity` (the text of an age key file) from the " +
            "body, used for this restore only, or with the key the server keeps. A missing key is 422 KEY_REQUIRED, a wrong one 422 " +
            "WRONG_KEY, both before anything is changed; a modified or cut archive is 422 ARCHIVE_INVALID.",
          requestBody: { required: true, content: json("Restore") },
          responses: { 200: { description: "Restored", content: json("RestoreOutcome") }, ...errors(400, 401, 403, 404, 409, 422, 507) },
        },
      },
      "/api/backups/{id}/verify": {
        parameters: [idParam],
        post: {
          summary: "Verify an archive without restoring",
          description:
            "An encrypted backup is decrypted and checked in full with the key in the optional body or the server's own; without " +
            "any key only the age header, the size and the SHA-256 recorded when it was made are checked (verify_scope: structure). " +
            "A wrong key given is 422 WRONG_KEY and is not recorded as damage.",
          requestBody: { required: false, content: json("ArchiveKey") },
          responses: { 200: { description: "The backup with its verification result", content: json("Backup") }, ...errors(400, 401, 403, 404, 409, 422) },
        },
      },
      "/api/backups/{id}/drill": {
        parameters: [idParam],
        post: {
          summary: "Restore drill: restore the backup into a sandbox and check it, without touching live data",
          description:
            "Answers when the drill has finished (about 20 s per GB): 200 with the drill record, status passed or failed, each check " +
            "with its result, the time to restore and the counts. A failed drill is announced to the notification channels; one whose " +
            "archive is unreadable or whose hashes disagree also marks the backup damaged.",
          responses: { 200: { description: "The finished drill", content: json("Drill") }, ...errors(400, 401, 403, 404, 409, 507) },
        },
      },
      "/api/backups/drills": {
        get: {
          summary: "Recent restore drills, newest first",
          parameters: [{ name: "limit", in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: 200, default: 20 } }],
          responses: { 200: { description: "The drills", content: json("DrillList") }, ...errors(400, 401, 403) },
        },
      },
      "/api/backups/{id}/cancel": {
        parameters: [idParam],
        post: { summary: "Cancel a running backup", responses: { 202: { description: "Cancelling", content: json("Backup") }, ...errors(400, 401, 403, 404, 409) } },
      },
      "/api/backups/upload": {
        post: {
          summary: "Upload an archive (the request body is the .tar.gz)",
          parameters: [
            { name: "X-Filename", in: "header", required: false, schema: { type: "string" }, description: "Original file name, URI-encoded" },
            { name: "X-Backup-Passphrase", in: "header", required: false, schema: { type: "string" }, description: "Passphrase of an encrypted (.tar.gz.age) archive" },
            { name: "X-Backup-Identity", in: "header", required: false, schema: { type: "string" }, description: "age identity (AGE-SECRET-KEY-1…) of an encrypted archive" },
          ],
          requestBody: { required: true, content: { "application/gzip": { schema: { type: "string", format: "binary" } } } },
          responses: { 201: { description: "Verified and added", content: json("Backup") }, ...errors(400, 401, 403, 413, 415, 422, 507) },
        },
      },
      "/api/backups/schedules": {
        get: { summary: "List backup plans", responses: { 200: { description: "Plans by name, with next run and last result", content: json("PlanList") }, ...errors(401, 403) } },
        post: {
          summary: "Create a backup plan",
          description:
            "cron: five fields (minute hour day month weekday) read in `timezone` (IANA; default the server's). drill_cron: restore drill " +
            "schedule, default weekly on Sunday at 04:00, null for none. full_every (incremental only): every N-th run is a full backup.",
          requestBody: { required: true, content: json("CreatePlan") },
          responses: { 201: { description: "Created; Location names it", content: json("Plan") }, ...errors(400, 401, 403, 409, 415) },
        },
      },
      "/api/backups/schedules/{id}": {
        parameters: [idParam],
        get: { summary: "Get a backup plan", responses: { 200: { description: "The plan", content: json("Plan") }, ...errors(400, 401, 403, 404) } },
        patch: {
          summary: "Change a backup plan (any subset of its fields)",
          requestBody: { required: true, content: json("UpdatePlan") },
          responses: { 200: { description: "The changed plan", content: json("Plan") }, ...errors(400, 401, 403, 404, 409, 415) },
        },
        delete: { summary: "Delete a backup plan (its backups stay)", responses: { 204: { description: "Deleted" }, ...errors(400, 401, 403, 404) } },
      },
      "/api/backups/schedules/{id}/run": {
        parameters: [idParam],
        post: {
          summary: "Run a plan now (does not use up a scheduled run)",
          description: "Answers at once: 202, the backup in_progress and its Location. It is verified and recorded on the plan when done.",
          responses: { 202: { description: "Started", content: json("Backup") }, ...errors(400, 401, 403, 404, 409, 507) },
        },
      },
      ...notifyPaths(errors),
      ...browsePaths(errors),
      ...offsitePaths(errors),
      ...encryptionPaths(errors),
    },
  };
}
