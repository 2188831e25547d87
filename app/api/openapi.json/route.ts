/** GET /api/openapi.json: the REST API's OpenAPI document (public: it describes, it reveals nothing). */
import { buildOpenApiDocument } from "@/server/http/openapi";

export const dynamic = "force-static";

export function GET(): Response {
  return Response.json(buildOpenApiDocument());
}
