/** REST: GET /api/backups/{id}/tree/users (see server/http/browse-routes.ts). */
import { getOnly, userFoldersRoute } from "@/server/http/browse-routes";

export const dynamic = "force-dynamic";

export { userFoldersRoute as GET, getOnly as POST, getOnly as PUT, getOnly as PATCH, getOnly as DELETE };
