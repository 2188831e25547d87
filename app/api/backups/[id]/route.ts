/** REST: GET /api/backups/{id} and DELETE /api/backups/{id} (204). */
import { backupIdSchema } from "@/server/backup/contract";
import { deleteBackup, getBackup } from "@/server/backup/service";
import { getConfig } from "@/server/config";
import { adminRoute, methodNotAllowed } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

type Params = { id: string };

export const GET = adminRoute<Params>(({ db, params }) => Response.json(getBackup(db, backupIdSchema.parse(params.id))));

export const DELETE = adminRoute<Params>(async ({ db, actor, params }) => {
  await deleteBackup({ db, config: getConfig(), actor, id: backupIdSchema.parse(params.id) });
  return new Response(null, { status: 204 });
});

const refused = methodNotAllowed("GET", "DELETE");
export { refused as POST, refused as PUT, refused as PATCH };
