/**
 * REST: POST /api/backups/{id}/restore with the spec's body; 400 without confirm: true. An
 * encrypted backup takes `passphrase` or `identity` in the body (used for this restore only).
 */
import { getBackupRow } from "@/server/backup/catalog";
import { backupIdSchema, restoreInput, restorePartsFor } from "@/server/backup/contract";
import { givenKeys } from "@/server/backup/encryption";
import { restoreBackup } from "@/server/backup/restore/restore";
import { getConfig } from "@/server/config";
import { AppError } from "@/server/errors";
import { adminRoute, methodNotAllowed, readJsonBody } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";
// A restore of a large archive takes minutes; the response comes when it is done.
export const maxDuration = 3600;

export const POST = adminRoute<{ id: string }>(async ({ req, db, actor, params }) => {
  const id = backupIdSchema.parse(params.id);
  const body = (await readJsonBody(req)) as Record<string, unknown>;
  if (body.backup_id !== undefined && Number(body.backup_id) !== id) {
    throw new AppError("BAD_REQUEST", `backup_id in the body (${String(body.backup_id)}) does not match the backup in the path (${id}).`);
  }
  const input = restoreInput.parse({ ...body, backup_id: id });
  const outcome = await restoreBackup({
    db,
    config: getConfig(),
    actor,
    backupId: id,
    parts: restorePartsFor(getBackupRow(db, id), input),
    confirm: input.confirm,
    keys: givenKeys(input),
  });
  return Response.json(outcome);
});

const refused = methodNotAllowed("POST");
export { refused as GET, refused as PUT, refused as PATCH, refused as DELETE };
