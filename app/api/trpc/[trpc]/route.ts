import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { appRouter } from "@/server/api/root";
import { createRequestContext } from "@/server/api/trpc";
import { crossSiteRefusal } from "@/server/http/cross-site";
import { jsonError } from "@/server/http/route-handler";

export const dynamic = "force-dynamic";

async function handler(req: Request): Promise<Response> {
  const refusal = crossSiteRefusal(req, { requireJson: true });
  if (refusal) return jsonError(403, "FORBIDDEN", refusal);
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: () => createRequestContext(req),
    onError({ error, path }) {
      if (error.code === "INTERNAL_SERVER_ERROR") console.error(`[trpc] ${path ?? "?"}:`, error.cause ?? error);
    },
  });
}

export { handler as GET, handler as POST };
