/** REST: POST /api/backups/{id}/restore-paths/plan (see server/http/browse-routes.ts). */
import { postOnly, restorePlanRoute } from "@/server/http/browse-routes";

export const dynamic = "force-dynamic";
export const maxDuration = 3600;

export { restorePlanRoute as POST, postOnly as GET, postOnly as PUT, postOnly as PATCH, postOnly as DELETE };
