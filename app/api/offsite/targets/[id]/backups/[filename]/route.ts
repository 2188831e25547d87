/** REST: DELETE /api/offsite/targets/{id}/backups/{filename} — 204; 409 while a remote incremental builds on it. */
import { deleteFromTarget, remoteFileInput } from "@/server/backup/targets/service";
import { targetIdSchema } from "@/server/backup/targets/targets";
import { getConfig } from "@/server/config";
import { adminRoute, methodNotAllowed } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

export const DELETE = adminRoute<{ id: string; filename: string }>(async ({ db, actor, params }) => {
  const input = remoteFileInput.parse({ target_id: targetIdSchema.parse(params.id), filename: params.filename });
  await deleteFromTarget({ db, config: getConfig(), actor, input });
  return new Response(null, { status: 204 });
});

const refused = methodNotAllowed("DELETE");
export { refused as GET, refused as POST, refused as PUT, refused as PATCH };
