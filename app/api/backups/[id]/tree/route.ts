/** REST: GET /api/backups/{id}/tree (see server/http/browse-routes.ts). */
import { getOnly, listTreeRoute } from "@/server/http/browse-routes";

export const dynamic = "force-dynamic";

export { listTreeRoute as GET, getOnly as POST, getOnly as PUT, getOnly as PATCH, getOnly as DELETE };
