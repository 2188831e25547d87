/** REST: GET /api/backups/schedules (the backup plans) and POST /api/backups/schedules (a new plan: 201 + Location). */
import { createPlan, listPlans, planInput, toPlanRecord } from "@/server/backup/schedule/plans";
import { getConfig } from "@/server/config";
import { adminRoute, methodNotAllowed, readJsonBody } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

export const GET = adminRoute(({ db }) => Response.json({ plans: listPlans(db) }));

export const POST = adminRoute(async ({ req, db, actor }) => {
  const input = planInput.parse(await readJsonBody(req));
  const plan = createPlan({ db, config: getConfig(), actor, input });
  return Response.json(toPlanRecord(db, plan), { status: 201, headers: { Location: `/api/backups/schedules/${plan.id}` } });
});

const refused = methodNotAllowed("GET", "POST");
export { refused as PUT, refused as PATCH, refused as DELETE };
