/** REST: GET /api/backups/{id}/offsite (the backup's copy state per target) and POST (copy now / retry: 202; body {target_id} optional). */
import { z } from "zod";
import { getBackupRow } from "@/server/backup/catalog";
import { backupIdSchema } from "@/server/backup/contract";
import { requestCopy } from "@/server/backup/targets/copy-queue";
import { copyStates } from "@/server/backup/targets/copy-states";
import { adminRoute, methodNotAllowed, readJsonBody } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

export const GET = adminRoute<{ id: string }>(({ db, params }) => {
  const id = getBackupRow(db, backupIdSchema.parse(params.id)).id;
  return Response.json({ copies: copyStates(db, id) });
});

export const POST = adminRoute<{ id: string }>(async ({ req, db, actor, params }) => {
  const id = backupIdSchema.parse(params.id);
  const hasBody = (req.headers.get("content-length") ?? "0") !== "0" || req.headers.has("content-type");
  const body = z.object({ target_id: z.number().int().positive().optional() }).strict().parse(hasBody ? await readJsonBody(req) : {});
  requestCopy({ db, actor, backupId: id, targetId: body.target_id });
  return Response.json({ copies: copyStates(db, id) }, { status: 202 });
});

const refused = methodNotAllowed("GET", "POST");
export { refused as PUT, refused as PATCH, refused as DELETE };
