/** REST: POST /api/backups/{id}/verify — checks the archive without restoring; records the result. */
import { backupIdSchema, toBackupRecord } from "@/server/backup/contract";
import { verifyBackup } from "@/server/backup/import";
import { getConfig } from "@/server/config";
import { adminRoute, methodNotAllowed } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";
export const maxDuration = 3600;

export const POST = adminRoute<{ id: string }>(async ({ db, actor, params }) => {
  const row = await verifyBackup({ db, config: getConfig(), actor, id: backupIdSchema.parse(params.id) });
  return Response.json(toBackupRecord(row));
});

const refused = methodNotAllowed("POST");
export { refused as GET, refused as PUT, refused as PATCH, refused as DELETE };
