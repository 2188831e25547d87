/**
 * The OpenAPI part for notifications, health and metrics (spread into the document by
 * openapi.ts), generated from the zod schemas the routes validate with.
 */
import { z } from "zod";
import { healthSchema } from "../backup/health";
import { channelRecordSchema, createChannelInput, updateChannelInput } from "../backup/notify/channels";
import { testResultSchema } from "../backup/notify/sender";

type SchemaOf = (s: z.ZodType, io?: "input" | "output") => Record<string, unknown>;
type ErrorsOf = (...codes: number[]) => Record<string, unknown>;

const ref = (name: string) => ({ "application/json": { schema: { $ref: `#/components/schemas/${name}` } } });
const idParam = { name: "id", in: "path", required: true, schema: { type: "integer", minimum: 1 } };
/** Health and metrics also take a monitoring-scope token; every other path refuses one (403). */
const monitoringSecurity = [{ bearer: [] }, { session: [] }];

export function notifySchemas(schema: SchemaOf) {
  return {
    BackupHealth: schema(healthSchema),
    NotificationChannel: schema(channelRecordSchema),
    CreateNotificationChannel: schema(createChannelInput, "input"),
    UpdateNotificationChannel: schema(updateChannelInput.omit({ id: true }), "input"),
    NotificationTestResult: schema(testResultSchema),
  };
}

export function notifyPaths(errors: ErrorsOf) {
  return {
    "/api/health/backups": {
      get: {
        summary: "Backup health: ok, warning or critical, with a one-line summary and the figures behind it",
        description:
          "Answers 200 for every status (the status is in the body), so a proxy never takes a critical backup state for a dead " +
          "server and a monitor can read why. For uptime checkers that look only at the status code, `?fail_status=503` (any " +
          "400-599) is answered when the status is critical. critical: no successful backup made here, none within " +
          "notify.no_backup_hours, or the newest one failed; warning: the newest verification or drill failed, or the backup " +
          "volume is low on space. Accepts a monitoring-scope API token.",
        security: monitoringSecurity,
        parameters: [{ name: "fail_status", in: "query", required: false, schema: { type: "integer", minimum: 400, maximum: 599 } }],
        responses: {
          200: { description: "The health", content: ref("BackupHealth") },
          "4XX/5XX": { description: "With fail_status: the health, when critical", content: ref("BackupHealth") },
          ...errors(400, 401, 403),
        },
      },
    },
    "/api/metrics": {
      get: {
        summary: "Backup health in the Prometheus text exposition format 0.0.4 (baluhost_backup_* gauges)",
        description:
          "text/plain; version=0.0.4. A value that does not exist (no drill, no plan) has no sample; " +
          "baluhost_backup_last_success_timestamp_seconds is 0 when nothing was ever backed up. Accepts a monitoring-scope API token.",
        security: monitoringSecurity,
        responses: { 200: { description: "The metrics", content: { "text/plain; version=0.0.4": { schema: { type: "string" } } } }, ...errors(401, 403) },
      },
    },
    "/api/notifications/channels": {
      get: {
        summary: "List notification channels (secrets are never returned: has_secret says whether one is saved)",
        responses: {
          200: { description: "The channels", content: { "application/json": { schema: { type: "object", properties: { channels: { type: "array", items: { $ref: "#/components/schemas/NotificationChannel" } } } } } } },
          ...errors(401, 403),
        },
      },
      post: {
        summary: "Add a webhook or e-mail channel",
        description:
          "`secret` is the webhook's signing secret or the SMTP password; it is stored outside the database and every backup. " +
          "A webhook receives a JSON POST with `X-BaluHost-Signature: sha256=<hex HMAC-SHA256 of the raw body>` and " +
          "`X-BaluHost-Timestamp` (Unix seconds, also in the body as sent_at): receivers should check both.",
        requestBody: { required: true, content: ref("CreateNotificationChannel") },
        responses: { 201: { description: "Created", content: ref("NotificationChannel") }, ...errors(400, 401, 403, 409, 415) },
      },
    },
    "/api/notifications/channels/{id}": {
      parameters: [idParam],
      get: { summary: "Get a channel", responses: { 200: { description: "The channel", content: ref("NotificationChannel") }, ...errors(400, 401, 403, 404) } },
      patch: {
        summary: "Change a channel (leave secret out to keep the saved one; clear_secret removes it)",
        requestBody: { required: true, content: ref("UpdateNotificationChannel") },
        responses: { 200: { description: "The channel", content: ref("NotificationChannel") }, ...errors(400, 401, 403, 404, 409, 415) },
      },
      delete: { summary: "Remove a channel, its secret and its queued messages", responses: { 204: { description: "Removed" }, ...errors(400, 401, 403, 404) } },
    },
    "/api/notifications/channels/{id}/test": {
      parameters: [idParam],
      post: {
        summary: "Send a test message now; answers whether it was accepted, or the reason in words",
        responses: { 200: { description: "The result", content: ref("NotificationTestResult") }, ...errors(400, 401, 403, 404) },
      },
    },
  };
}
