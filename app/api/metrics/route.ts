/**
 * REST: GET /api/metrics — backup health in the Prometheus text exposition format 0.0.4
 * (server/backup/health.ts healthMetrics). Accepts an admin's session or full token, or a
 * monitoring token (Prometheus: `authorization: {credentials: <token>}` in the scrape config).
 */
import { backupHealth, healthMetrics } from "@/server/backup/health";
import { getConfig } from "@/server/config";
import { adminRoute, methodNotAllowed } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

export const GET = adminRoute(
  async ({ db }) =>
    new Response(healthMetrics(await backupHealth({ db, config: getConfig() })), {
      headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8", "Cache-Control": "no-store" },
    }),
  { acceptMonitoringToken: true },
);

const refused = methodNotAllowed("GET");
export { refused as POST, refused as PUT, refused as PATCH, refused as DELETE };
