/** REST: GET /api/backups/drills — recent restore drills, newest first (`?limit=`, default 20). */
import { listDrillsInput, toDrillRecord } from "@/server/backup/drill/contract";
import { listDrills } from "@/server/backup/drill/drill";
import { getConfig } from "@/server/config";
import { adminRoute, methodNotAllowed } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

export const GET = adminRoute(({ req, db }) => {
  const { limit } = listDrillsInput.parse(Object.fromEntries(new URL(req.url).searchParams));
  return Response.json({ drills: listDrills(db, { limit, config: getConfig() }).map(toDrillRecord) });
});

const refused = methodNotAllowed("GET");
export { refused as POST, refused as PUT, refused as PATCH, refused as DELETE };
