/**
 * REST: GET /api/health/backups — is this NAS protected? (server/backup/health.ts)
 *
 * It answers 200 for every status, with the status in the body: a monitoring system that
 * reads JSON wants the details of a critical state, and a proxy or load balancer must not
 * take a critical backup state for a dead server. Uptime checkers that look only at the
 * status code ask with `?fail_status=503` (any 400-599): that code is then sent when the
 * status is critical. Accepts an admin's session or full token, or a monitoring token.
 */
import { z } from "zod";
import { backupHealth } from "@/server/backup/health";
import { getConfig } from "@/server/config";
import { adminRoute, methodNotAllowed } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

const failStatus = z.coerce
  .number({ error: "fail_status must be an HTTP status code" })
  .int("fail_status must be an HTTP status code")
  .min(400, "fail_status must be between 400 and 599")
  .max(599, "fail_status must be between 400 and 599")
  .optional();

export const GET = adminRoute(
  async ({ req, db }) => {
    const fail = failStatus.parse(new URL(req.url).searchParams.get("fail_status") ?? undefined);
    const health = await backupHealth({ db, config: getConfig() });
    return Response.json(health, { status: fail && health.status === "critical" ? fail : 200, headers: { "Cache-Control": "no-store" } });
  },
  { acceptMonitoringToken: true },
);

const refused = methodNotAllowed("GET");
export { refused as POST, refused as PUT, refused as PATCH, refused as DELETE };
