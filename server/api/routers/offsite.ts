/**
 * Offsite copies over tRPC (admins only): targets, test connection, per-backup copy states,
 * copy now / retry, and what a target holds (list, verify, import, restore, delete). Each
 * procedure validates, calls server/backup/targets/, and returns; no logic lives here.
 */
import { z } from "zod";
import { getConfig } from "../../config";
import { backupIdSchema } from "../../backup/contract";
import { connectionResultSchema, testTargetConnection } from "../../backup/targets/connection";
import { requestCopy } from "../../backup/targets/copy-queue";
import { allCopyStates, copyStates, copyStateSchema } from "../../backup/targets/copy-states";
import { remoteBackupSchema } from "../../backup/targets/remote";
import {
  deleteFromTarget,
  importFromTarget,
  listTargetBackups,
  remoteFileInput,
  remoteImportInput,
  remoteImportOutput,
  remoteRestoreInput,
  remoteRestoreOutput,
  remoteVerifyOutput,
  restoreFromTarget,
  verifyOnTarget,
} from "../../backup/targets/service";
import { createTarget, createTargetInput, listTargets, removeTarget, targetRecordSchema, updateTarget, updateTargetInput } from "../../backup/targets/targets";
import { adminProcedure, createTRPCRouter } from "../trpc";

const targetId = z.object({ id: z.number().int().positive() });

export const offsiteRouter = createTRPCRouter({
  targets: adminProcedure.output(z.array(targetRecordSchema)).query(({ ctx }) => listTargets(ctx.db)),

  /** The keys are accepted here and never returned (has_secret). */
  createTarget: adminProcedure
    .input(createTargetInput)
    .output(targetRecordSchema)
    .mutation(({ ctx, input }) => createTarget({ db: ctx.db, config: getConfig(), actor: ctx.actor, input })),

  /** Leave both keys out to keep the saved ones. */
  updateTarget: adminProcedure
    .input(updateTargetInput)
    .output(targetRecordSchema)
    .mutation(({ ctx, input }) => updateTarget({ db: ctx.db, config: getConfig(), actor: ctx.actor, input })),

  removeTarget: adminProcedure
    .input(targetId)
    .output(z.object({ id: z.number(), name: z.string() }))
    .mutation(({ ctx, input }) => removeTarget({ db: ctx.db, config: getConfig(), actor: ctx.actor, id: input.id })),

  /** Writes, reads back and deletes a small object; says which step failed and why. */
  testTarget: adminProcedure
    .input(targetId)
    .output(connectionResultSchema)
    .mutation(({ ctx, input }) => testTargetConnection({ db: ctx.db, config: getConfig(), actor: ctx.actor, id: input.id })),

  /** Every backup's copy states (queued, uploading with bytes, verified, failed with the reason). */
  copies: adminProcedure.output(z.array(copyStateSchema)).query(({ ctx }) => allCopyStates(ctx.db)),

  /** Copy a backup now, or again (the Retry button): to one target or every enabled one. */
  copyNow: adminProcedure
    .input(z.object({ backup_id: backupIdSchema, target_id: z.number().int().positive().optional() }))
    .output(z.array(copyStateSchema))
    .mutation(({ ctx, input }) => {
      requestCopy({ db: ctx.db, actor: ctx.actor, backupId: input.backup_id, targetId: input.target_id });
      return copyStates(ctx.db, input.backup_id);
    }),

  /** What the bucket holds, read from the bucket (works with an empty catalog). */
  remoteList: adminProcedure
    .input(targetId)
    .output(z.array(remoteBackupSchema))
    .query(({ ctx, input }) => listTargetBackups({ db: ctx.db, config: getConfig(), targetId: input.id })),

  remoteVerify: adminProcedure
    .input(remoteFileInput)
    .output(remoteVerifyOutput)
    .mutation(({ ctx, input }) => verifyOnTarget({ db: ctx.db, config: getConfig(), actor: ctx.actor, input })),

  /** Downloads (checked against its SHA-256) and imports a remote backup and the older ones its chain needs. */
  remoteImport: adminProcedure
    .input(remoteImportInput)
    .output(remoteImportOutput)
    .mutation(({ ctx, input }) => importFromTarget({ db: ctx.db, config: getConfig(), actor: ctx.actor, input })),

  remoteRestore: adminProcedure
    .input(remoteRestoreInput)
    .output(remoteRestoreOutput)
    .mutation(({ ctx, input }) => restoreFromTarget({ db: ctx.db, config: getConfig(), actor: ctx.actor, input })),

  remoteDelete: adminProcedure
    .input(remoteFileInput)
    .output(z.object({ deleted: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      await deleteFromTarget({ db: ctx.db, config: getConfig(), actor: ctx.actor, input });
      return { deleted: true as const };
    }),
});
