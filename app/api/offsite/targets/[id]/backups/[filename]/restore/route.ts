/** REST: POST /api/offsite/targets/{id}/backups/{filename}/restore — import it (and its chain), then restore: body {restore_database, restore_files, restore_config, confirm: true}. */
import { remoteRestoreInput, restoreFromTarget } from "@/server/backup/targets/service";
import { targetIdSchema } from "@/server/backup/targets/targets";
import { getConfig } from "@/server/config";
import { adminRoute, methodNotAllowed, readJsonBody } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";
export const maxDuration = 3600;

export const POST = adminRoute<{ id: string; filename: string }>(async ({ req, db, actor, params }) => {
  const body = (await readJsonBody(req)) as Record<string, unknown>;
  const input = remoteRestoreInput.parse({ ...body, target_id: targetIdSchema.parse(params.id), filename: params.filename });
  return Response.json(await restoreFromTarget({ db, config: getConfig(), actor, input }));
});

const refused = methodNotAllowed("POST");
export { refused as GET, refused as PUT, refused as PATCH, refused as DELETE };
