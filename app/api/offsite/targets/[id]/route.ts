/** REST: GET, PATCH (any subset; leave both keys out to keep them) and DELETE (204; the bucket is untouched) /api/offsite/targets/{id}. */
import { getTargetRow, removeTarget, targetIdSchema, toTargetRecord, updateTarget, updateTargetInput } from "@/server/backup/targets/targets";
import { getConfig } from "@/server/config";
import { adminRoute, methodNotAllowed, readJsonBody } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

export const GET = adminRoute<{ id: string }>(({ db, params }) => Response.json(toTargetRecord(getTargetRow(db, targetIdSchema.parse(params.id)))));

export const PATCH = adminRoute<{ id: string }>(async ({ req, db, actor, params }) => {
  const body = (await readJsonBody(req)) as Record<string, unknown>;
  const input = updateTargetInput.parse({ ...body, id: targetIdSchema.parse(params.id) });
  return Response.json(await updateTarget({ db, config: getConfig(), actor, input }));
});

export const DELETE = adminRoute<{ id: string }>(async ({ db, actor, params }) => {
  await removeTarget({ db, config: getConfig(), actor, id: targetIdSchema.parse(params.id) });
  return new Response(null, { status: 204 });
});

const refused = methodNotAllowed("GET", "PATCH", "DELETE");
export { refused as POST, refused as PUT };
