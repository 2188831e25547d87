/**
 * REST: POST /api/backups/{id}/verify — checks the archive without restoring; records the
 * result. An encrypted backup may take `{passphrase}` or `{identity}` as a JSON body (used for
 * this check only); without a key the server's own is used, else only the age structure, size
 * and checksum are checked (verify_scope "structure").
 */
import { archiveKeyFields, backupIdSchema, toBackupRecord } from "@/server/backup/contract";
import { givenKeys } from "@/server/backup/encryption";
import { verifyBackup } from "@/server/backup/import";
import { getConfig } from "@/server/config";
import { adminRoute, methodNotAllowed, readJsonBody } from "@/server/http/route-handler";
import { z } from "zod";

export const dynamic = "force-dynamic";
export const maxDuration = 3600;

const verifyKeysBody = z.object(archiveKeyFields).strict();

export const POST = adminRoute<{ id: string }>(async ({ req, db, actor, params }) => {
  const id = backupIdSchema.parse(params.id);
  const hasBody = Number(req.headers.get("content-length") ?? "0") > 0 || req.headers.get("content-type")?.includes("json");
  const keys = hasBody ? givenKeys(verifyKeysBody.parse(await readJsonBody(req))) : undefined;
  const row = await verifyBackup({ db, config: getConfig(), actor, id, keys });
  return Response.json(toBackupRecord(row));
});

const refused = methodNotAllowed("POST");
export { refused as GET, refused as PUT, refused as PATCH, refused as DELETE };
