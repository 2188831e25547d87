/** REST: GET /api/backups (list) and POST /api/backups (create, 201). */
import { createBackupInput, toBackupRecord } from "@/server/backup/contract";
import { createBackup, listBackups, progressOf } from "@/server/backup/service";
import { getConfig } from "@/server/config";
import { adminRoute, readJsonBody } from "@/server/http/route-handler";
import { methodNotAllowed } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

export const GET = adminRoute(({ db }) => Response.json(listBackups(db, getConfig())));

export const POST = adminRoute(async ({ req, db, actor }) => {
  const input = createBackupInput.parse(await readJsonBody(req));
  const row = await createBackup({ db, config: getConfig(), actor, input });
  return Response.json(toBackupRecord(row, progressOf(row.id)), { status: 201 });
});

const refused = methodNotAllowed("GET", "POST");
export { refused as PUT, refused as PATCH, refused as DELETE };
