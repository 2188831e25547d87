/** REST: POST /api/backups/encryption/keypair — a new age key pair; the identity is returned once and never stored. */
import { generateKeyPair } from "@/server/backup/encryption";
import { adminRoute, methodNotAllowed } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

export const POST = adminRoute(async ({ db, actor }) =>
  Response.json(generateKeyPair({ db, actor }), { status: 201, headers: { "Cache-Control": "no-store" } }),
);

const refused = methodNotAllowed("POST");
export { refused as GET, refused as PUT, refused as PATCH, refused as DELETE };
