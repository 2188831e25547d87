/**
 * The encryption API contract: zod schemas shared by tRPC, the REST routes, OpenAPI and the
 * CLI's --json output (snake_case, as the rest of the backup API).
 */
import { z } from "zod";
import { ENCRYPTION_MODES, type EncryptionUpdate } from "./encryption";

export const encryptionRecordSchema = z.object({
  mode: z.enum(ENCRYPTION_MODES),
  /** Public keys (age1…) new backups are encrypted to, in recipients mode. */
  recipients: z.array(z.string()),
  /** The server keeps the passphrase (data/secrets/backup-passphrase, 0600, or BACKUP_ENCRYPTION_PASSPHRASE_FILE). */
  passphrase_kept: z.boolean(),
  /** The server may use an identity (BACKUP_ENCRYPTION_IDENTITY_FILE) to verify and restore. */
  identity_kept: z.boolean(),
  source: z.enum(["settings", "environment", "default"]),
  min_passphrase_length: z.number(),
});

export const encryptionUpdateInput = z
  .object({
    mode: z.enum(ENCRYPTION_MODES),
    passphrase: z.string().max(1024).optional(),
    recipients: z.array(z.string().max(200)).max(50).optional(),
    /** The admin downloaded or copied the recovery sheet; required to switch encryption on. */
    recovery_sheet_saved: z.boolean().optional(),
    /** Also delete the passphrase the server keeps (it then cannot open older passphrase backups by itself). */
    forget_passphrase: z.boolean().optional(),
  })
  .strict();

export function toEncryptionUpdate(input: z.infer<typeof encryptionUpdateInput>): EncryptionUpdate {
  if (input.mode === "passphrase") return { mode: "passphrase", passphrase: input.passphrase ?? "" };
  if (input.mode === "recipients") return { mode: "recipients", recipients: input.recipients ?? [] };
  return { mode: "off" };
}

export const keyPairSchema = z.object({ identity: z.string(), recipient: z.string() });

export const recoverySheetInput = z
  .object({
    mode: z.enum(["passphrase", "recipients"]),
    passphrase: z.string().max(1024).optional(),
    recipients: z.array(z.string().max(200)).max(50).optional(),
    identity: z.string().max(200).optional(),
  })
  .strict();

export const recoverySheetSchema = z.object({ filename: z.string(), text: z.string() });
