/**
 * The backup API contract: one set of zod schemas, in the spec's snake_case field names,
 * shared by tRPC, the REST route handlers and the CLI's --json output.
 */
import { z } from "zod";
import { BACKUP_ENCRYPTIONS, BACKUP_ORIGINS, BACKUP_STATUSES, BACKUP_TYPES, type Backup } from "@/db/schema";
import type { BackupProgress } from "./progress";

export const backupIdSchema = z.coerce
  .number({ error: "Backup id must be a number" })
  .int("Backup id must be a whole number")
  .positive("Backup id must be positive")
  .max(Number.MAX_SAFE_INTEGER);

/**
 * The spec's POST /api/backups body. Unset includes_* follow the type; with no backup_type
 * (the real BaluHost UI sends none) the type follows the includes.
 */
export const createBackupInput = z
  .object({
    backup_type: z.enum(BACKUP_TYPES).optional(),
    includes_database: z.boolean().optional(),
    includes_files: z.boolean().optional(),
    includes_config: z.boolean().optional(),
    /** A folder inside the backup folder (absolute, or relative to it); empty: the backup folder. */
    backup_path: z.string().max(4096, "backup_path is too long").optional(),
    /**
     * Whether to answer when the backup has finished. tRPC: false unless set. REST: true
     * unless `"wait": false` or `Prefer: respond-async` (the spec's 201 is a finished backup).
     */
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
  /** The folder inside the backup folder the archive went to ("" = the backup folder itself). */
  backup_path: z.string(),
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
  /** False for archives without a list of every file (real BaluHost archives): a restore adds and replaces, it cannot delete. */
  has_file_list: z.boolean(),
  /** Pinned by an admin: retention never removes it. */
  protected: z.boolean(),
  /** Its last verification failed: not offered as a parent for incrementals, restore warns. */
  damaged: z.boolean(),
  /** The error code of a failure (BACKUP_CANCELLED for a cancelled backup, see server/errors.ts). */
  error_code: z.string().nullable(),
  /** Uploaded or imported backups: when the archive arrived here (created_at is when it was made). */
  uploaded_at: z.string().nullable(),
  /** How long making it took, for backups made here. */
  duration_ms: z.number().nullable(),
  /** False when the archive's database is another application's: restore files and config only. */
  database_restorable: z.boolean(),
  /** Scheduled backups: the plan that made it (its name when it ran). */
  plan_id: z.number().nullable(),
  plan_name: z.string().nullable(),
  /** Encrypted (age, `.tar.gz.age`): with a passphrase or to public keys; null = not encrypted. */
  encryption: z.enum(BACKUP_ENCRYPTIONS).nullable(),
  /** The public keys (age1…) it was encrypted to, when known (made here in recipients mode). */
  encryption_recipients: z.array(z.string()).nullable(),
  /** What the last verification covered: "full", or "structure" (encrypted, checked without its key). */
  verify_scope: z.enum(["full", "structure"]).nullable(),
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
    backup_path: row.archiveDir,
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
    has_file_list: row.fileList,
    protected: row.isProtected,
    damaged: row.verifyStatus === "failed",
    error_code: row.errorCode,
    uploaded_at: row.importedAt?.toISOString() ?? null,
    duration_ms: row.completedAt && !row.importedAt ? Math.max(0, row.completedAt.getTime() - row.createdAt.getTime()) : null,
    database_restorable: row.includesDatabase && !row.foreignDatabase,
    plan_id: row.planId,
    plan_name: row.planName,
    encryption: row.encryption,
    encryption_recipients: row.encryptionRecipients,
    verify_scope: row.verifyScope,
    progress: row.status === "in_progress" ? toProgressRecord(progress) : null,
  };
}

/**
 * The spec's restore body. `confirm` must be true, or nothing happens (400). A part left
 * unset follows the backup (see restorePartsFor); a part set to true that the backup lacks
 * is refused.
 */
/**
 * The key for an encrypted archive, given for one operation (restore, verify, upload) and
 * never stored: a passphrase, and/or an age identity (the text of key.txt, AGE-SECRET-KEY-1…).
 */
export const archiveKeyFields = {
  passphrase: z.string().min(1).max(1024).optional(),
  identity: z.string().min(1).max(64 * 1024).optional(),
};

export const restoreInput = z
  .object({
    backup_id: backupIdSchema,
    restore_database: z.boolean().optional(),
    restore_files: z.boolean().optional(),
    restore_config: z.boolean().optional(),
    confirm: z.boolean().default(false),
    ...archiveKeyFields,
  })
  .strict();

export type RestoreInput = z.infer<typeof restoreInput>;

/**
 * The parts a restore request asks for. Unset database and files mean "if the backup has
 * it" (the spec's default of true, without refusing a database_only backup for lacking
 * files); an unset config means no, except for a config_only backup, which holds nothing
 * else. A database from another application is never restored by default.
 */
export function restorePartsFor(
  backup: Pick<Backup, "includesDatabase" | "includesFiles" | "includesConfig" | "backupType" | "foreignDatabase">,
  input: Pick<RestoreInput, "restore_database" | "restore_files" | "restore_config">,
): { database: boolean; files: boolean; config: boolean } {
  return {
    database: input.restore_database ?? (backup.includesDatabase && !backup.foreignDatabase),
    files: input.restore_files ?? backup.includesFiles,
    config: input.restore_config ?? backup.backupType === "config_only",
  };
}

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
