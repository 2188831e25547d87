/** REST: GET /api/offsite/targets/{id}/backups — what the bucket holds, read from the bucket (works with an empty catalog). */
import { listTargetBackups } from "@/server/backup/targets/service";
import { targetIdSchema } from "@/server/backup/targets/targets";
import { getConfig } from "@/server/config";
import { adminRoute, methodNotAllowed } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

export const GET = adminRoute<{ id: string }>(async ({ db, params }) =>
  Response.json({ backups: await listTargetBackups({ db, config: getConfig(), targetId: targetIdSchema.parse(params.id) }) }),
);

const refused = methodNotAllowed("GET");
export { refused as POST, refused as PUT, refused as PATCH, refused as DELETE };
