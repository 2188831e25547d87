"use client";
/**
 * Puts React Query and the tRPC client into the tree (mounted once by the root layout).
 * Requests go to /api/trpc in batches, as plain JSON. When the session has ended (a
 * request answers UNAUTHORIZED), the page goes to the sign-in form and comes back after.
 */
import { MutationCache, QueryCache, QueryClientProvider, type QueryClient } from "@tanstack/react-query";
import { httpBatchLink } from "@trpc/client";
import { useState, type ReactNode } from "react";
import { trpc } from "./client";
import { makeQueryClient } from "@/lib/query-client";

function isUnauthorized(error: unknown): boolean {
  return (error as { data?: { code?: unknown } } | null)?.data?.code === "UNAUTHORIZED";
}

function goToSignIn() {
  const here = `${window.location.pathname}${window.location.search}`;
  if (window.location.pathname === "/login") return;
  window.location.assign(`/login?callbackUrl=${encodeURIComponent(here)}`);
}

let browserQueryClient: QueryClient | undefined;

function getQueryClient(): QueryClient {
  // On the server each render gets its own client; in the browser one lives for the visit.
  if (typeof window === "undefined") return makeQueryClient();
  browserQueryClient ??= makeQueryClient({
    queryCache: new QueryCache({ onError: (error) => isUnauthorized(error) && goToSignIn() }),
    mutationCache: new MutationCache({ onError: (error) => isUnauthorized(error) && goToSignIn() }),
  });
  return browserQueryClient;
}

export function TRPCReactProvider({ children }: { children: ReactNode }) {
  const queryClient = getQueryClient();
  const [trpcClient] = useState(() =>
    trpc.createClient({
      links: [httpBatchLink({ url: "/api/trpc" })],
    }),
  );
  return (
    <trpc.Provider client={trpcClient} queryClient={queryClient}>
      <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>
    </trpc.Provider>
  );
}
