/** REST: POST /api/offsite/targets/{id}/test — write, read back, delete a small object: 200 {ok, failed_step, failure_kind, error, duration_ms}. */
import { testTargetConnection } from "@/server/backup/targets/connection";
import { targetIdSchema } from "@/server/backup/targets/targets";
import { getConfig } from "@/server/config";
import { adminRoute, methodNotAllowed } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

export const POST = adminRoute<{ id: string }>(async ({ db, actor, params }) =>
  Response.json(await testTargetConnection({ db, config: getConfig(), actor, id: targetIdSchema.parse(params.id) })),
);

const refused = methodNotAllowed("POST");
export { refused as GET, refused as PUT, refused as PATCH, refused as DELETE };
