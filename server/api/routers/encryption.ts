/**
 * Backup encryption over tRPC (Settings → Backup → Encryption): read the settings, make a key
 * pair, make the recovery sheet, switch encryption on, change the key, switch it off. Thin:
 * the schemas live in server/backup/encryption-contract.ts, the logic in server/backup/encryption.ts.
 */
import os from "node:os";
import { getConfig } from "../../config";
import {
  encryptionRecordSchema,
  encryptionUpdateInput,
  keyPairSchema,
  recoverySheetInput,
  recoverySheetSchema,
  toEncryptionUpdate,
} from "../../backup/encryption-contract";
import { encryptionRecord, generateKeyPair, getEncryptionSettings, recoverySheet, updateEncryption } from "../../backup/encryption";
import { adminProcedure, createTRPCRouter } from "../trpc";

export const encryptionRouter = createTRPCRouter({
  /** The mode, the recipients' public keys, and whether the server keeps a passphrase / identity. */
  get: adminProcedure.output(encryptionRecordSchema).query(({ ctx }) => encryptionRecord(getEncryptionSettings(ctx.db, getConfig()))),

  /** A new age key pair; the identity (private key) is shown once and never stored. */
  generateKeyPair: adminProcedure.output(keyPairSchema).mutation(({ ctx }) => generateKeyPair({ db: ctx.db, actor: ctx.actor })),

  /** The recovery sheet for a key about to be set (text to download or copy). */
  recoverySheet: adminProcedure
    .input(recoverySheetInput)
    .output(recoverySheetSchema)
    .mutation(({ input }) => ({
      filename: `baluhost-backup-recovery-${os.hostname()}.txt`,
      text: recoverySheet({ host: os.hostname(), ...input }),
    })),

  /** Switches encryption on (needs recovery_sheet_saved), changes the key, or switches it off. */
  update: adminProcedure
    .input(encryptionUpdateInput)
    .output(encryptionRecordSchema)
    .mutation(async ({ ctx, input }) =>
      encryptionRecord(
        await updateEncryption({
          db: ctx.db,
          config: getConfig(),
          actor: ctx.actor,
          update: toEncryptionUpdate(input),
          recoverySheetSaved: input.recovery_sheet_saved === true,
          forgetPassphrase: input.forget_passphrase,
        }),
      ),
    ),
});
