/** REST: POST /api/offsite/targets/{id}/backups/{filename}/verify — read it back and check its SHA-256: 200 {ok, error}. */
import { remoteFileInput, verifyOnTarget } from "@/server/backup/targets/service";
import { targetIdSchema } from "@/server/backup/targets/targets";
import { getConfig } from "@/server/config";
import { adminRoute, methodNotAllowed } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";
export const maxDuration = 3600;

export const POST = adminRoute<{ id: string; filename: string }>(async ({ db, actor, params }) => {
  const input = remoteFileInput.parse({ target_id: targetIdSchema.parse(params.id), filename: params.filename });
  return Response.json(await verifyOnTarget({ db, config: getConfig(), actor, input }));
});

const refused = methodNotAllowed("POST");
export { refused as GET, refused as PUT, refused as PATCH, refused as DELETE };
