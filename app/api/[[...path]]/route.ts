/**
 * Every /api path no route claims: a JSON 404 in the API's error shape, for any method,
 * instead of Next's HTML "not found" page, which an API client cannot show.
 */
import { jsonError } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

function notFound(req: Request): Response {
  const { pathname } = new URL(req.url);
  return jsonError(404, "NOT_FOUND", `There is no API endpoint at ${pathname}. The endpoints are listed in /api/openapi.json.`);
}

export { notFound as GET, notFound as HEAD, notFound as POST, notFound as PUT, notFound as PATCH, notFound as DELETE, notFound as OPTIONS };
