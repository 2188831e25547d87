/**
 * Backups over tRPC: each procedure validates input, calls the backup service, and
 * returns the shared contract (server/backup/contract.ts). No logic lives here.
 */
import { z } from "zod";
import type { Backup } from "@/db/schema";
import { getConfig } from "../../config";
import {
  archiveKeyFields,
  backupIdSchema,
  backupListSchema,
  backupRecordSchema,
  createBackupInput,
  progressSchema,
  restoreInput,
  restoreOutcomeSchema,
  restoreProgressSchema,
  restorePartsFor,
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
  setBackupProtected,
} from "../../backup/service";
import { applyRetentionNow, previewRetention } from "../../backup/retention";
import { getRetentionSettings, retentionInput, rulesOf, saveRetentionSettings, type RetentionSettings } from "../../backup/settings";
import { catalogVersion, getBackupRow } from "../../backup/catalog";
import { createDownloadLink } from "../../http/download-links";
import { verifyBackup } from "../../backup/import";
import { givenKeys } from "../../backup/encryption";
import { currentRestoreProgress } from "../../backup/restore/progress";
import { planRestoreSpace } from "../../backup/restore/plan";
import { resolveChain, restoreBackup, stagedBytes } from "../../backup/restore/restore";
import { recordAudit } from "../../audit";
import { adminProcedure, createTRPCRouter } from "../trpc";

const byId = z.object({ id: backupIdSchema });
/** Verify: with a key for an encrypted archive (else the server's, else a check without decrypting). */
const verifyInput = byId.extend(archiveKeyFields).strict();

const sourceSchema = z.enum(["settings", "environment", "default"]);

const retentionOutput = z.object({
  max_count: z.number(),
  retention_days: z.number(),
  keep_daily: z.number(),
  keep_weekly: z.number(),
  keep_monthly: z.number(),
  sources: z.object({
    max_count: sourceSchema,
    retention_days: sourceSchema,
    keep_daily: sourceSchema,
    keep_weekly: sourceSchema,
    keep_monthly: sourceSchema,
  }),
});

function retentionRecord(s: RetentionSettings) {
  return {
    max_count: s.maxCount,
    retention_days: s.retentionDays,
    keep_daily: s.keepDaily,
    keep_weekly: s.keepWeekly,
    keep_monthly: s.keepMonthly,
    sources: {
      max_count: s.sources.maxCount,
      retention_days: s.sources.retentionDays,
      keep_daily: s.sources.keepDaily,
      keep_weekly: s.sources.keepWeekly,
      keep_monthly: s.sources.keepMonthly,
    },
  };
}

/** A backup retention would remove, as the preview lists it. */
const removalSchema = z.object({
  id: z.number(),
  filename: z.string(),
  created_at: z.string(),
  size_bytes: z.number(),
  backup_type: z.string(),
  status: z.string(),
});

const toRemoval = (r: Backup) => ({
  id: r.id,
  filename: r.filename,
  created_at: r.createdAt.toISOString(),
  size_bytes: r.sizeBytes,
  backup_type: r.backupType,
  status: r.status,
});

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
    .output(
      z.object({
        id: z.number(),
        status: z.enum(["in_progress", "completed", "failed"]),
        progress: progressSchema.nullable(),
        error_message: z.string().nullable(),
        error_code: z.string().nullable(),
      }),
    )
    .query(({ ctx, input }) => {
      const row = getBackupRow(ctx.db, input.id);
      return { id: row.id, status: row.status, progress: toProgressRecord(progressOf(row.id)), error_message: row.errorMessage, error_code: row.errorCode };
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
        /** Changes whenever a backup is added, removed or changes state (by anyone: the CLI, another admin); the tab re-reads the list then. */
        catalog_version: z.string(),
      }),
    )
    .query(async ({ ctx }) => {
      const config = getConfig();
      const lock = readLiveLock(config.backupPath);
      return {
        free_bytes: await freeBytes(config.backupPath).catch(() => null),
        running: lock ? { operation: lock.operation, subject: lock.subject, started_at: lock.startedAt } : null,
        retention: retentionRecord(getRetentionSettings(ctx.db, config)),
        catalog_version: catalogVersion(ctx.db),
      };
    }),

  /** Reads the whole archive and checks it against its manifest; the result is stored on the backup. */
  verify: adminProcedure
    .input(verifyInput)
    .output(backupRecordSchema)
    .mutation(async ({ ctx, input }) =>
      toBackupRecord(await verifyBackup({ db: ctx.db, config: getConfig(), actor: ctx.actor, id: input.id, keys: givenKeys(input) })),
    ),

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
        parts: restorePartsFor(getBackupRow(ctx.db, input.backup_id), input),
        confirm: input.confirm,
        keys: givenKeys(input),
      }),
    ),

  /**
   * What a restore of these parts will do first and need: its safety backup (scoped to the
   * parts) and the free space per volume. The restore dialog shows it before RESTORE is typed.
   */
  restorePlan: adminProcedure
    .input(restoreInput.omit({ confirm: true, passphrase: true, identity: true }))
    .output(
      z.object({
        parts: z.object({ database: z.boolean(), files: z.boolean(), config: z.boolean() }),
        safety_backup: z.object({ backup_type: z.string(), includes_config: z.boolean(), estimated_bytes: z.number() }),
        staged_bytes: z.number(),
        volumes: z.array(z.object({ path: z.string(), holds: z.array(z.string()), needed_bytes: z.number(), free_bytes: z.number(), enough: z.boolean() })),
        enough_space: z.boolean(),
      }),
    )
    .query(async ({ ctx, input }) => {
      const config = getConfig();
      const target = getBackupRow(ctx.db, input.backup_id);
      const parts = restorePartsFor(target, input);
      const plan = await planRestoreSpace({ config, parts, stagedBytes: await stagedBytes(config, resolveChain(ctx.db, config, target), target) });
      return {
        parts,
        safety_backup: {
          backup_type: plan.safety.input.backup_type ?? "full",
          includes_config: plan.safety.input.backup_type === "config_only" || plan.safety.input.includes_config === true,
          estimated_bytes: plan.safety.bytes,
        },
        staged_bytes: plan.stagedBytes,
        volumes: plan.volumes.map((v) => ({ path: v.path, holds: v.holds, needed_bytes: v.neededBytes, free_bytes: v.freeBytes, enough: v.enough })),
        enough_space: plan.enough,
      };
    }),

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

  /** What the given rules would delete now: shown to the admin before saving them. */
  previewRetention: adminProcedure
    .input(retentionInput)
    .output(z.object({ remove: z.array(removalSchema), freed_bytes: z.number() }))
    .query(({ ctx, input }) => {
      const remove = previewRetention(ctx.db, rulesOf(input));
      return { remove: remove.map(toRemoval), freed_bytes: remove.reduce((sum, r) => sum + r.sizeBytes, 0) };
    }),

  /** Saves the rules (after the admin saw the preview) and applies them at once. */
  updateRetention: adminProcedure
    .input(retentionInput)
    .output(retentionOutput.extend({ applied: z.boolean(), deleted: z.array(z.object({ id: z.number(), filename: z.string() })) }))
    .mutation(async ({ ctx, input }) => {
      const config = getConfig();
      saveRetentionSettings(ctx.db, input);
      recordAudit(ctx.db, { action: "backup.retention_settings", actor: ctx.actor, success: true, details: retentionInput.parse(input) });
      const result = await applyRetentionNow({ db: ctx.db, config, reason: `retention saved by ${ctx.actor.username}` });
      return { ...retentionRecord(getRetentionSettings(ctx.db, config)), applied: result.applied, deleted: result.deleted };
    }),

  /** Pins (protect: true) or unpins a backup; retention never removes a pinned one. */
  setProtected: adminProcedure
    .input(z.object({ id: backupIdSchema, protect: z.boolean() }))
    .output(backupRecordSchema)
    .mutation(({ ctx, input }) => setBackupProtected({ db: ctx.db, actor: ctx.actor, id: input.id, protect: input.protect })),
});
