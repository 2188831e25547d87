/** REST: POST /api/backups/{id}/cancel — stops a running backup; it ends failed ("Cancelled by ..."). */
import { backupIdSchema } from "@/server/backup/contract";
import { cancelBackup } from "@/server/backup/service";
import { getConfig } from "@/server/config";
import { adminRoute, methodNotAllowed } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

export const POST = adminRoute<{ id: string }>(({ db, actor, params }) =>
  Response.json(cancelBackup({ db, config: getConfig(), actor, id: backupIdSchema.parse(params.id) }), { status: 202 }),
);

const refused = methodNotAllowed("POST");
export { refused as GET, refused as PUT, refused as PATCH, refused as DELETE };
