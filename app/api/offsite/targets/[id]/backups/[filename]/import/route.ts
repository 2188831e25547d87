/** REST: POST /api/offsite/targets/{id}/backups/{filename}/import — download (checked against its SHA-256) and import it with its chain: 201 {backups}; an encrypted one may need a JSON body {passphrase} or {identity}. */
import { importFromTarget, remoteImportInput } from "@/server/backup/targets/service";
import { targetIdSchema } from "@/server/backup/targets/targets";
import { getConfig } from "@/server/config";
import { adminRoute, methodNotAllowed, readJsonBody } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";
export const maxDuration = 3600;

export const POST = adminRoute<{ id: string; filename: string }>(async ({ req, db, actor, params }) => {
  // The body is optional: only an encrypted archive the server has no key for needs one.
  const body = req.headers.get("content-type") ? ((await readJsonBody(req)) as Record<string, unknown>) : {};
  const input = remoteImportInput.parse({ ...body, target_id: targetIdSchema.parse(params.id), filename: params.filename });
  const result = await importFromTarget({ db, config: getConfig(), actor, input });
  const last = result.backups[result.backups.length - 1]!;
  return Response.json(result, { status: 201, headers: { Location: `/api/backups/${last.id}` } });
});

const refused = methodNotAllowed("POST");
export { refused as GET, refused as PUT, refused as PATCH, refused as DELETE };
