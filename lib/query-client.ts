/**
 * The one QueryClient factory, used on both sides: the browser keeps one client for the
 * whole visit; the server makes one per request (see server/api/server-caller.ts; app/_trpc/provider.tsx is the browser side) to
 * prefetch data that <HydrateClient> hands to the browser. The API speaks plain JSON
 * (dates as ISO strings), so no transformer is configured anywhere.
 */
import { defaultShouldDehydrateQuery, QueryClient, type QueryClientConfig } from "@tanstack/react-query";

/** The HTTP status a tRPC client error carries, if any. */
export function errorHttpStatus(error: unknown): number | undefined {
  const status = (error as { data?: { httpStatus?: unknown } } | null)?.data?.httpStatus;
  return typeof status === "number" ? status : undefined;
}

export function makeQueryClient(config: Pick<QueryClientConfig, "queryCache" | "mutationCache"> = {}): QueryClient {
  return new QueryClient({
    ...config,
    defaultOptions: {
      queries: {
        // Data prefetched on the server is fresh for a moment: no refetch right after hydration.
        staleTime: 15_000,
        // A 4xx (signed out, forbidden, bad input) will not heal by itself: do not retry it.
        retry: (failureCount, error) => {
          const status = errorHttpStatus(error);
          if (status !== undefined && status < 500) return false;
          return failureCount < 2;
        },
      },
      dehydrate: {
        shouldDehydrateQuery: (query) => defaultShouldDehydrateQuery(query) || query.state.status === "pending",
      },
    },
  });
}
