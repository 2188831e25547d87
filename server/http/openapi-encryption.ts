/**
 * The OpenAPI part for backup encryption (spread into the document by openapi.ts), generated
 * from the zod schemas the routes validate with.
 */
import { z } from "zod";
import { archiveKeyFields } from "../backup/contract";
import { encryptionRecordSchema, encryptionUpdateInput, keyPairSchema } from "../backup/encryption-contract";

type SchemaOf = (s: z.ZodType, io?: "input" | "output") => Record<string, unknown>;
type ErrorsOf = (...codes: number[]) => Record<string, unknown>;

const ref = (name: string) => ({ "application/json": { schema: { $ref: `#/components/schemas/${name}` } } });

export function encryptionSchemas(schema: SchemaOf) {
  return {
    EncryptionSettings: schema(encryptionRecordSchema),
    UpdateEncryption: schema(encryptionUpdateInput, "input"),
    EncryptionKeyPair: schema(keyPairSchema),
    ArchiveKey: schema(z.object(archiveKeyFields).strict(), "input"),
  };
}

export function encryptionPaths(errors: ErrorsOf) {
  return {
    "/api/backups/encryption": {
      get: {
        summary: "Backup encryption settings (never a secret)",
        description:
          "mode off, passphrase (age scrypt) or recipients (age X25519 public keys). passphrase_kept: the server holds the passphrase " +
          "in its secrets folder (0600, outside the backups); identities (private keys) are never kept unless BACKUP_ENCRYPTION_IDENTITY_FILE is set.",
        responses: { 200: { description: "The settings", content: ref("EncryptionSettings") }, ...errors(401, 403) },
      },
      put: {
        summary: "Switch encryption on, change its key, or switch it off",
        description:
          "Switching on or changing the key requires recovery_sheet_saved: true (the admin has downloaded or copied the recovery " +
          "sheet: a lost key means lost backups). New backups are then .tar.gz.age files that `age -d` opens; older ones keep their form.",
        requestBody: { required: true, content: ref("UpdateEncryption") },
        responses: { 200: { description: "The new settings", content: ref("EncryptionSettings") }, ...errors(400, 401, 403, 415) },
      },
    },
    "/api/backups/encryption/keypair": {
      post: {
        summary: "Generate an age key pair (the identity is returned once and never stored)",
        responses: { 201: { description: "identity (AGE-SECRET-KEY-1…) and recipient (age1…)", content: ref("EncryptionKeyPair") }, ...errors(401, 403) },
      },
    },
  };
}
