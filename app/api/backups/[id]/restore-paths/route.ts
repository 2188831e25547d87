/** REST: POST /api/backups/{id}/restore-paths (see server/http/browse-routes.ts). */
import { postOnly, restorePathsRoute } from "@/server/http/browse-routes";

export const dynamic = "force-dynamic";
export const maxDuration = 3600;

export { restorePathsRoute as POST, postOnly as GET, postOnly as PUT, postOnly as PATCH, postOnly as DELETE };
