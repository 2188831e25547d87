/** REST: GET /api/backups/{id}/tree/diff (see server/http/browse-routes.ts). */
import { getOnly, diffTreeRoute } from "@/server/http/browse-routes";

export const dynamic = "force-dynamic";

export { diffTreeRoute as GET, getOnly as POST, getOnly as PUT, getOnly as PATCH, getOnly as DELETE };
