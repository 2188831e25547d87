/**
 * REST: GET /api/backups/encryption — the encryption settings (no secrets); PUT — switch
 * encryption on (`recovery_sheet_saved: true` required), change the key, or switch it off.
 */
import { encryptionRecord, getEncryptionSettings, updateEncryption } from "@/server/backup/encryption";
import { encryptionUpdateInput, toEncryptionUpdate } from "@/server/backup/encryption-contract";
import { getConfig } from "@/server/config";
import { adminRoute, methodNotAllowed, readJsonBody } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

export const GET = adminRoute(async ({ db }) => Response.json(encryptionRecord(getEncryptionSettings(db, getConfig()))));

export const PUT = adminRoute(async ({ req, db, actor }) => {
  const input = encryptionUpdateInput.parse(await readJsonBody(req));
  const s = await updateEncryption({
    db,
    config: getConfig(),
    actor,
    update: toEncryptionUpdate(input),
    recoverySheetSaved: input.recovery_sheet_saved === true,
    forgetPassphrase: input.forget_passphrase,
  });
  return Response.json(encryptionRecord(s));
});

const refused = methodNotAllowed("GET", "PUT");
export { refused as POST, refused as PATCH, refused as DELETE };
