/**
 * Backups over tRPC: each procedure validates input, calls the backup service, and
 * returns the shared contract (server/backup/contract.ts). No logic lives here.
 */
import { z } from "zod";
import { getConfig } from "../../config";
import {
  backupIdSchema,
  backupListSchema,
  backupRecordSchema,
  createBackupInput,
  progressSchema,
  restoreInput,
  restoreOutcomeSchema,
  restoreProgressSchema,
  toBackupRecord,
  toProgressRecord,
} from "../../backup/contract";
import { freeBytes } from "../../backup/fs-safe";
import { readLiveLock } from "../../backup/lock";
import {
  cancelBackup,
  createBackup,
  deleteBackup,
  getBackup,
  listBackups,
  progressOf,
} from "../../backup/service";
import { getRetentionSettings, retentionInput, saveRetentionSettings } from "../../backup/settings";
import { getBackupRow } from "../../backup/catalog";
import { createDownloadLink } from "../../http/download-links";
import { verifyBackup } from "../../backup/import";
import { currentRestoreProgress } from "../../backup/restore/progress";
import { restoreBackup } from "../../backup/restore/restore";
import { recordAudit } from "../../audit";
import { adminProcedure, createTRPCRouter } from "../trpc";

const byId = z.object({ id: backupIdSchema });

const retentionOutput = z.object({
  max_count: z.number(),
  retention_days: z.number(),
  sources: z.object({
    max_count: z.enum(["settings", "environment", "default"]),
    retention_days: z.enum(["settings", "environment", "default"]),
  }),
});

function retentionRecord(s: ReturnType<typeof getRetentionSettings>) {
  return {
    max_count: s.maxCount,
    retention_days: s.retentionDays,
    sources: { max_count: s.sources.maxCount, retention_days: s.sources.retentionDays },
  };
}

export const backupRouter = createTRPCRouter({
  /** Starts a backup; returns it in_progress at once, or finished when `wait` is true. */
  create: adminProcedure
    .input(createBackupInput)
    .output(backupRecordSchema)
    .mutation(async ({ ctx, input }) => {
      const row = await createBackup({ db: ctx.db, config: getConfig(), actor: ctx.actor, input });
      return toBackupRecord(row, progressOf(row.id));
    }),

  list: adminProcedure.output(backupListSchema).query(({ ctx }) => listBackups(ctx.db, getConfig())),

  get: adminProcedure
    .input(byId)
    .output(backupRecordSchema)
    .query(({ ctx, input }) => getBackup(ctx.db, input.id)),

  delete: adminProcedure
    .input(byId)
    .output(z.object({ success: z.literal(true), id: z.number() }))
    .mutation(async ({ ctx, input }) => {
      await deleteBackup({ db: ctx.db, config: getConfig(), actor: ctx.actor, id: input.id });
      return { success: true as const, id: input.id };
    }),

  /**
   * A short-lived URL that downloads this backup without a header (for a plain link), the
   * same ticket as REST `POST /api/backups/{id}/download-link`. Relative to the server.
   */
  downloadLink: adminProcedure
    .input(byId)
    .output(z.object({ url: z.string(), expires_at: z.string() }))
    .mutation(({ ctx, input }) => createDownloadLink({ db: ctx.db, config: getConfig(), user: ctx.user, actor: ctx.actor, id: input.id })),

  /** Progress of a running backup (null once it has finished); poll it while status is in_progress. */
  progress: adminProcedure
    .input(byId)
    .output(z.object({ id: z.number(), status: z.enum(["in_progress", "completed", "failed"]), progress: progressSchema.nullable(), error_message: z.string().nullable() }))
    .query(({ ctx, input }) => {
      const row = getBackupRow(ctx.db, input.id);
      return { id: row.id, status: row.status, progress: toProgressRecord(progressOf(row.id)), error_message: row.errorMessage };
    }),

  cancel: adminProcedure
    .input(byId)
    .output(backupRecordSchema)
    .mutation(({ ctx, input }) => cancelBackup({ db: ctx.db, config: getConfig(), actor: ctx.actor, id: input.id })),

  /** What the Backup tab shows beside the list: free space, what is running, retention in effect. */
  overview: adminProcedure
    .output(
      z.object({
        free_bytes: z.number().nullable(),
        running: z.object({ operation: z.string(), subject: z.string(), started_at: z.string() }).nullable(),
        retention: retentionOutput,
      }),
    )
    .query(async ({ ctx }) => {
      const config = getConfig();
      const lock = readLiveLock(config.backupPath);
      return {
        free_bytes: await freeBytes(config.backupPath).catch(() => null),
        running: lock ? { operation: lock.operation, subject: lock.subject, started_at: lock.startedAt } : null,
        retention: retentionRecord(getRetentionSettings(ctx.db, config)),
      };
    }),

  /** Reads the whole archive and checks it against its manifest; the result is stored on the backup. */
  verify: adminProcedure
    .input(byId)
    .output(backupRecordSchema)
    .mutation(async ({ ctx, input }) => toBackupRecord(await verifyBackup({ db: ctx.db, config: getConfig(), actor: ctx.actor, id: input.id }))),

  /** Restores a backup (after the admin typed RESTORE); resolves when it is done. */
  restore: adminProcedure
    .input(restoreInput)
    .output(restoreOutcomeSchema)
    .mutation(({ ctx, input }) =>
      restoreBackup({
        db: ctx.db,
        config: getConfig(),
        actor: ctx.actor,
        backupId: input.backup_id,
        parts: { database: input.restore_database, files: input.restore_files, config: input.restore_config },
        confirm: input.confirm,
      }),
    ),

  /** The running restore's step and figures, or null when none runs in this server. */
  restoreProgress: adminProcedure.output(restoreProgressSchema).query(() => {
    const p = currentRestoreProgress();
    if (!p) return null;
    return {
      backup_id: p.backupId,
      step: p.step,
      files_done: p.filesDone,
      bytes_done: p.bytesDone,
      bytes_total: p.bytesTotal,
      percent: p.bytesTotal > 0 ? Math.min(100, Math.floor((p.bytesDone / p.bytesTotal) * 1000) / 10) : 0,
      started_at: new Date(p.startedAt).toISOString(),
      elapsed_ms: Date.now() - p.startedAt,
    };
  }),

  updateRetention: adminProcedure
    .input(retentionInput)
    .output(retentionOutput)
    .mutation(({ ctx, input }) => {
      saveRetentionSettings(ctx.db, input);
      recordAudit(ctx.db, { action: "backup.retention_settings", actor: ctx.actor, success: true, details: input });
      return retentionRecord(getRetentionSettings(ctx.db, getConfig()));
    }),
});
