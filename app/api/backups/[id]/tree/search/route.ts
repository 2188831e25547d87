/** REST: GET /api/backups/{id}/tree/search (see server/http/browse-routes.ts). */
import { getOnly, searchTreeRoute } from "@/server/http/browse-routes";

export const dynamic = "force-dynamic";

export { searchTreeRoute as GET, getOnly as POST, getOnly as PUT, getOnly as PATCH, getOnly as DELETE };
