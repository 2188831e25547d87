/** REST: GET /api/backups/{id}/folder (see server/http/browse-routes.ts). */
import { getOnly, folderArchiveRoute } from "@/server/http/browse-routes";

export const dynamic = "force-dynamic";

export { folderArchiveRoute as GET, getOnly as POST, getOnly as PUT, getOnly as PATCH, getOnly as DELETE };
