/**
 * The backup API contract: one set of zod schemas, in the spec's snake_case field names,
 * shared by tRPC, the REST route handlers and the CLI's --json output.
 */
import { z } from "zod";
import { BACKUP_ORIGINS, BACKUP_STATUSES, BACKUP_TYPES, type Backup } from "@/db/schema";
import type { BackupProgress } from "./progress";

export const backupIdSchema = z.coerce
  .number({ error: "Backup id must be a number" })
  .int("Backup id must be a whole number")
  .positive("Backup id must be positive")
  .max(Number.MAX_SAFE_INTEGER);

/** The spec's POST /api/backups body. Unset includes_* follow the type. */
export const createBackupInput = z
  .object({
    backup_type: z.enum(BACKUP_TYPES).default("full"),
    includes_database: z.boolean().optional(),
    includes_files: z.boolean().optional(),
    includes_config: z.boolean().optional(),
    /** tRPC/CLI only: resolve when the backup has finished instead of at once. */
    wait: z.boolean().optional(),
  })
  .strict();

export type CreateBackupInput = z.infer<typeof createBackupInput>;

export const progressSchema = z.object({
  phase: z.string(),
  files_done: z.number(),
  files_total: z.number(),
  bytes_done: z.number(),
  bytes_total: z.number(),
  percent: z.number(),
  started_at: z.string(),
  elapsed_ms: z.number(),
});

export const backupRecordSchema = z.object({
  id: z.number(),
  filename: z.string(),
  filepath: z.string(),
  size_bytes: z.number(),
  size_mb: z.number(),
  backup_type: z.enum(BACKUP_TYPES),
  status: z.enum(BACKUP_STATUSES),
  origin: z.enum(BACKUP_ORIGINS),
  created_at: z.string(),
  completed_at: z.string().nullable(),
  creator_id: z.number().nullable(),
  creator_name: z.string().nullable(),
  error_message: z.string().nullable(),
  includes_database: z.boolean(),
  includes_files: z.boolean(),
  includes_config: z.boolean(),
  parent_id: z.number().nullable(),
  file_count: z.number().nullable(),
  sha256: z.string().nullable(),
  verified_at: z.string().nullable(),
  verify_status: z.enum(["ok", "failed"]).nullable(),
  verify_error: z.string().nullable(),
  progress: progressSchema.nullable(),
});

export type BackupRecord = z.infer<typeof backupRecordSchema>;

export const backupListSchema = z.object({
  backups: z.array(backupRecordSchema),
  total_size_bytes: z.number(),
  total_size_mb: z.number(),
});

export type BackupList = z.infer<typeof backupListSchema>;

export const toMb = (bytes: number) => Math.round((bytes / (1024 * 1024)) * 100) / 100;

export function toProgressRecord(p: BackupProgress | null) {
  if (!p) return null;
  const percent =
    p.bytesTotal > 0 ? Math.min(100, Math.floor((p.bytesDone / p.bytesTotal) * 1000) / 10) : p.phase === "done" ? 100 : 0;
  return {
    phase: p.phase,
    files_done: p.filesDone,
    files_total: p.filesTotal,
    bytes_done: p.bytesDone,
    bytes_total: p.bytesTotal,
    percent,
    started_at: new Date(p.startedAt).toISOString(),
    elapsed_ms: Date.now() - p.startedAt,
  };
}

export function toBackupRecord(row: Backup, progress: BackupProgress | null = null): BackupRecord {
  return {
    id: row.id,
    filename: row.filename,
    filepath: row.filepath,
    size_bytes: row.sizeBytes,
    size_mb: toMb(row.sizeBytes),
    backup_type: row.backupType,
    status: row.status,
    origin: row.origin,
    created_at: row.createdAt.toISOString(),
    completed_at: row.completedAt?.toISOString() ?? null,
    creator_id: row.creatorId,
    creator_name: row.creatorName,
    error_message: row.errorMessage,
    includes_database: row.includesDatabase,
    includes_files: row.includesFiles,
    includes_config: row.includesConfig,
    parent_id: row.parentId,
    file_count: row.fileCount,
    sha256: row.sha256,
    verified_at: row.verifiedAt?.toISOString() ?? null,
    verify_status: row.verifyStatus,
    verify_error: row.verifyError,
    progress: row.status === "in_progress" ? toProgressRecord(progress) : null,
  };
}

/** The spec's restore body. `confirm` must be true, or nothing happens (400). */
export const restoreInput = z
  .object({
    backup_id: backupIdSchema,
    restore_database: z.boolean().default(true),
    restore_files: z.boolean().default(true),
    restore_config: z.boolean().default(false),
    confirm: z.boolean().default(false),
  })
  .strict();

export type RestoreInput = z.infer<typeof restoreInput>;

export const restoreOutcomeSchema = z.object({
  success: z.literal(true),
  message: z.string(),
  backup_id: z.number(),
  restored_at: z.string(),
  safety_backup_id: z.number(),
});

export const restoreProgressSchema = z
  .object({
    backup_id: z.number(),
    step: z.string(),
    files_done: z.number(),
    bytes_done: z.number(),
    bytes_total: z.number(),
    percent: z.number(),
    started_at: z.string(),
    elapsed_ms: z.number(),
  })
  .nullable();
