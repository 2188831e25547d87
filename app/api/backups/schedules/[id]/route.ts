/** REST: GET, PATCH (any subset of the plan's fields) and DELETE (204) /api/backups/schedules/{id}. */
import { deletePlan, getPlanRow, planIdSchema, planPatch, toPlanRecord, updatePlan } from "@/server/backup/schedule/plans";
import { getConfig } from "@/server/config";
import { adminRoute, methodNotAllowed, readJsonBody } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

type Params = { id: string };

export const GET = adminRoute<Params>(({ db, params }) => Response.json(toPlanRecord(db, getPlanRow(db, planIdSchema.parse(params.id)))));

export const PATCH = adminRoute<Params>(async ({ req, db, actor, params }) => {
  const id = planIdSchema.parse(params.id);
  const patch = planPatch.parse(await readJsonBody(req));
  return Response.json(toPlanRecord(db, updatePlan({ db, config: getConfig(), actor, id, patch })));
});

export const DELETE = adminRoute<Params>(({ db, actor, params }) => {
  deletePlan({ db, config: getConfig(), actor, id: planIdSchema.parse(params.id) });
  return new Response(null, { status: 204 });
});

const refused = methodNotAllowed("GET", "PATCH", "DELETE");
export { refused as POST, refused as PUT };
