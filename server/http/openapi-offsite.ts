/**
 * The OpenAPI part for offsite copies (spread into the document by openapi.ts), generated
 * from the zod schemas the routes validate with.
 */
import { z } from "zod";
import { connectionResultSchema } from "../backup/targets/connection";
import { copyStateSchema } from "../backup/targets/copy-states";
import { remoteBackupSchema } from "../backup/targets/remote";
import { remoteImportInput, remoteImportOutput, remoteRestoreInput, remoteRestoreOutput, remoteVerifyOutput } from "../backup/targets/service";
import { createTargetInput, targetRecordSchema, updateTargetInput } from "../backup/targets/targets";

type SchemaOf = (s: z.ZodType, io?: "input" | "output") => Record<string, unknown>;
type ErrorsOf = (...codes: number[]) => Record<string, unknown>;

const ref = (name: string) => ({ "application/json": { schema: { $ref: `#/components/schemas/${name}` } } });
const idParam = { name: "id", in: "path", required: true, schema: { type: "integer", minimum: 1 } };
const fileParam = { name: "filename", in: "path", required: true, schema: { type: "string", pattern: "^backup_\\d{8}_\\d{6}(_\\d{1,4})?\\.tar\\.gz(\\.[a-z0-9]{1,8})?$" } };
const listOf = (key: string, item: string) => ({
  "application/json": { schema: { type: "object", properties: { [key]: { type: "array", items: { $ref: `#/components/schemas/${item}` } } } } },
});

export function offsiteSchemas(schema: SchemaOf) {
  return {
    OffsiteTarget: schema(targetRecordSchema),
    CreateOffsiteTarget: schema(createTargetInput, "input"),
    UpdateOffsiteTarget: schema(updateTargetInput.omit({ id: true }), "input"),
    OffsiteConnectionResult: schema(connectionResultSchema),
    OffsiteCopyState: schema(copyStateSchema),
    RemoteBackup: schema(remoteBackupSchema),
    RemoteImport: schema(remoteImportInput.omit({ target_id: true, filename: true }), "input"),
    RemoteImportResult: schema(remoteImportOutput),
    RemoteRestore: schema(remoteRestoreInput.omit({ target_id: true, filename: true }), "input"),
    RemoteRestoreOutcome: schema(remoteRestoreOutput),
    RemoteVerifyResult: schema(remoteVerifyOutput),
  };
}

export function offsitePaths(errors: ErrorsOf) {
  return {
    "/api/offsite/targets": {
      get: { summary: "List offsite targets (keys are never returned: has_secret says whether they are saved)", responses: { 200: { description: "The targets", content: listOf("targets", "OffsiteTarget") }, ...errors(401, 403) } },
      post: {
        summary: "Add an S3-compatible target (AWS S3, Backblaze B2, MinIO, Ceph, Wasabi, Garage)",
        description:
          "The access key and secret key are stored in data/secrets (mode 0600), outside the database and every backup, and never returned. " +
          "endpoint empty = AWS S3 in the region; force_path_style for Ceph, MinIO and Garage. keep_count / keep_days are the target's own retention.",
        requestBody: { required: true, content: ref("CreateOffsiteTarget") },
        responses: { 201: { description: "Created", content: ref("OffsiteTarget") }, ...errors(400, 401, 403, 409, 415) },
      },
    },
    "/api/offsite/targets/{id}": {
      parameters: [idParam],
      get: { summary: "Get a target", responses: { 200: { description: "The target", content: ref("OffsiteTarget") }, ...errors(400, 401, 403, 404) } },
      patch: {
        summary: "Change a target (leave both keys out to keep the saved ones)",
        requestBody: { required: true, content: ref("UpdateOffsiteTarget") },
        responses: { 200: { description: "The target", content: ref("OffsiteTarget") }, ...errors(400, 401, 403, 404, 409, 415) },
      },
      delete: { summary: "Remove a target, its keys and its copy states (what is in the bucket stays)", responses: { 204: { description: "Removed" }, ...errors(400, 401, 403, 404) } },
    },
    "/api/offsite/targets/{id}/test": {
      parameters: [idParam],
      post: {
        summary: "Test connection: write, read back and delete a small object",
        description: "failed_step: keys, bucket, write, read or delete; failure_kind: dns, tls, connection, timeout, auth, bucket, permission, region, not_found or other.",
        responses: { 200: { description: "The result", content: ref("OffsiteConnectionResult") }, ...errors(400, 401, 403, 404) },
      },
    },
    "/api/offsite/targets/{id}/backups": {
      parameters: [idParam],
      get: {
        summary: "What the target holds, read from the bucket (works with an empty local catalog)",
        description: "Type, parent and SHA-256 come from each object's metadata; local_backup_id is the catalogued backup with the same SHA-256.",
        responses: { 200: { description: "The remote backups, newest first", content: listOf("backups", "RemoteBackup") }, ...errors(400, 401, 403, 404, 409) },
      },
    },
    "/api/offsite/targets/{id}/backups/{filename}": {
      parameters: [idParam, fileParam],
      delete: { summary: "Delete a backup (and its manifest) from the target; 409 while a remote incremental builds on it", responses: { 204: { description: "Deleted" }, ...errors(400, 401, 403, 404, 409) } },
    },
    "/api/offsite/targets/{id}/backups/{filename}/import": {
      parameters: [idParam, fileParam],
      post: {
        summary: "Download a remote backup (and the older ones its chain needs) into the backup list",
        description:
          "Streamed to a temporary file, refused unless its size and SHA-256 match the object's metadata, then verified like an upload. An encrypted archive (.tar.gz.age) the server has no key for needs {passphrase} or {identity}.",
        requestBody: { required: false, content: ref("RemoteImport") },
        responses: { 201: { description: "Imported, oldest first", content: ref("RemoteImportResult") }, ...errors(400, 401, 403, 404, 409, 422, 507) },
      },
    },
    "/api/offsite/targets/{id}/backups/{filename}/restore": {
      parameters: [idParam, fileParam],
      post: {
        summary: "Import a remote backup (with its chain) and restore it; confirm must be true",
        requestBody: { required: true, content: ref("RemoteRestore") },
        responses: { 200: { description: "Restored", content: ref("RemoteRestoreOutcome") }, ...errors(400, 401, 403, 404, 409, 422, 507) },
      },
    },
    "/api/offsite/targets/{id}/backups/{filename}/verify": {
      parameters: [idParam, fileParam],
      post: { summary: "Read a remote backup back and check it against its stored SHA-256", responses: { 200: { description: "The result", content: ref("RemoteVerifyResult") }, ...errors(400, 401, 403, 404) } },
    },
    "/api/backups/{id}/offsite": {
      parameters: [idParam],
      get: { summary: "The backup's offsite copy state per target", responses: { 200: { description: "The states", content: listOf("copies", "OffsiteCopyState") }, ...errors(400, 401, 403, 404) } },
      post: {
        summary: "Copy the backup now, or again (Retry): to every enabled target, or body {target_id}",
        responses: { 202: { description: "Queued", content: listOf("copies", "OffsiteCopyState") }, ...errors(400, 401, 403, 404, 409) },
      },
    },
  };
}
