/**
 * REST: POST /api/backups/{id}/drill — restores the backup into a sandbox, checks it and
 * answers with the drill record when it has finished (200, status passed or failed). Live
 * data is never touched. 409 while another operation runs, 507 without room for the sandbox.
 */
import { backupIdSchema } from "@/server/backup/contract";
import { toDrillRecord } from "@/server/backup/drill/contract";
import { runRestoreDrill } from "@/server/backup/drill/drill";
import { getConfig } from "@/server/config";
import { adminRoute, methodNotAllowed } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";
// It answers when the drill has finished: about 20 s per GB here.
export const maxDuration = 3600;

export const POST = adminRoute<{ id: string }>(async ({ db, actor, params }) => {
  const row = await runRestoreDrill({ db, config: getConfig(), actor, backupId: backupIdSchema.parse(params.id) });
  return Response.json(toDrillRecord(row));
});

const refused = methodNotAllowed("POST");
export { refused as GET, refused as PUT, refused as PATCH, refused as DELETE };
