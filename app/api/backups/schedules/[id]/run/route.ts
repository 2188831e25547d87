/**
 * REST: POST /api/backups/schedules/{id}/run — "Run now": starts the plan's backup and
 * answers 202 with it in progress and its Location (poll GET /api/backups/{id}); it is
 * verified and recorded on the plan when done. 409 while another operation runs.
 */
import { toBackupRecord } from "@/server/backup/contract";
import { planIdSchema } from "@/server/backup/schedule/plans";
import { runPlanNow } from "@/server/backup/schedule/runs";
import { progressOf } from "@/server/backup/service";
import { getConfig } from "@/server/config";
import { adminRoute, methodNotAllowed } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

export const POST = adminRoute<{ id: string }>(async ({ db, actor, params }) => {
  const { started } = await runPlanNow({ db, config: getConfig(), actor, planId: planIdSchema.parse(params.id) });
  return Response.json(toBackupRecord(started, progressOf(started.id)), { status: 202, headers: { Location: `/api/backups/${started.id}` } });
});

const refused = methodNotAllowed("POST");
export { refused as GET, refused as PUT, refused as PATCH, refused as DELETE };
