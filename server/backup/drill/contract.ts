/**
 * The restore drill contract: one set of zod schemas in the API's snake_case, shared by
 * tRPC, the REST route handlers, the OpenAPI document and the CLI's --json output.
 */
import { z } from "zod";
import { DRILL_STATUSES, type RestoreDrill } from "@/db/schema";
import { backupIdSchema } from "../contract";
import { drillProgress } from "./drill";

export const drillCheckSchema = z.object({
  /** archive, contents, database_integrity or migrations. */
  name: z.string(),
  ok: z.boolean(),
  detail: z.string().optional(),
});

export const drillProgressSchema = z.object({
  step: z.string(),
  bytes_done: z.number(),
  bytes_total: z.number(),
  percent: z.number(),
});

export const drillRecordSchema = z.object({
  id: z.number(),
  backup_id: z.number().nullable(),
  backup_filename: z.string().nullable(),
  plan_id: z.number().nullable(),
  actor_name: z.string(),
  status: z.enum(DRILL_STATUSES),
  started_at: z.string(),
  finished_at: z.string().nullable(),
  /** Time to restore: from the start to a checked sandbox. */
  duration_ms: z.number().nullable(),
  file_count: z.number().nullable(),
  bytes: z.number().nullable(),
  error_message: z.string().nullable(),
  checks: z.array(drillCheckSchema),
  /** While it runs in the server answering: where it is. Null when finished or run by another process (the CLI). */
  progress: drillProgressSchema.nullable(),
});

export type DrillRecord = z.infer<typeof drillRecordSchema>;

export const drillListSchema = z.object({ drills: z.array(drillRecordSchema) });

/** drill.run and POST /api/backups/{id}/drill: which backup (default the newest completed, undamaged one). */
export const runDrillInput = z.object({ backup_id: backupIdSchema.optional() }).strict();

export const listDrillsInput = z.object({ limit: z.coerce.number().int().min(1).max(200).optional() }).strict();

export function toDrillRecord(row: RestoreDrill): DrillRecord {
  const p = row.status === "running" ? drillProgress(row.id) : null;
  return {
    id: row.id,
    backup_id: row.backupId,
    backup_filename: row.backupFilename,
    plan_id: row.planId,
    actor_name: row.actorName,
    status: row.status,
    started_at: row.startedAt.toISOString(),
    finished_at: row.finishedAt?.toISOString() ?? null,
    duration_ms: row.durationMs,
    file_count: row.fileCount,
    bytes: row.bytes,
    error_message: row.errorMessage,
    checks: row.checks ?? [],
    progress: p
      ? {
          step: p.step,
          bytes_done: p.bytesDone,
          bytes_total: p.bytesTotal,
          percent: p.bytesTotal > 0 ? Math.min(100, Math.floor((p.bytesDone / p.bytesTotal) * 1000) / 10) : 0,
        }
      : null,
  };
}
