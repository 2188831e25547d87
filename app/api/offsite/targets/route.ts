/** REST: GET /api/offsite/targets (list) and POST (create, 201). Keys are accepted, never returned. */
import { createTarget, createTargetInput, listTargets } from "@/server/backup/targets/targets";
import { getConfig } from "@/server/config";
import { adminRoute, methodNotAllowed, readJsonBody } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

export const GET = adminRoute(({ db }) => Response.json({ targets: listTargets(db) }));

export const POST = adminRoute(async ({ req, db, actor }) => {
  const input = createTargetInput.parse(await readJsonBody(req));
  const created = await createTarget({ db, config: getConfig(), actor, input });
  return Response.json(created, { status: 201, headers: { Location: `/api/offsite/targets/${created.id}` } });
});

const refused = methodNotAllowed("GET", "POST");
export { refused as PUT, refused as PATCH, refused as DELETE };
