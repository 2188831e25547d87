/**
 * REST: POST /api/backups/{id}/download-link — a short-lived URL that downloads this one
 * backup without a header (`{url, expires_at}`), for plain `<a href>` links.
 */
import { backupIdSchema } from "@/server/backup/contract";
import { getConfig } from "@/server/config";
import { createDownloadLink } from "@/server/http/download-links";
import { adminRoute, methodNotAllowed } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

export const POST = adminRoute<{ id: string }>(async ({ db, actor, user, params }) =>
  Response.json(await createDownloadLink({ db, config: getConfig(), user, actor, id: backupIdSchema.parse(params.id) }), { status: 201 }),
);

const refused = methodNotAllowed("POST");
export { refused as GET, refused as PUT, refused as PATCH, refused as DELETE };
