/**
 * How server components reach the API: in-process, through the same router and procedure
 * ladder as HTTP clients, never by fetching our own /api/trpc. Everything here is cached
 * per request (React cache()), so a layout and a page asking for the user read the
 * session and the database once.
 *
 *   const user = await getCurrentUser();              // null when signed out
 *   const caller = await getServerCaller();
 *   const tokens = await caller.tokens.list();
 *
 * To render a client component with data already in its React Query cache (no loading
 * state on first paint), prefetch and wrap it in <HydrateClient>:
 *
 *   await api.audit.list.prefetchInfinite({ limit: 50 });
 *   return <HydrateClient><AuditLog /></HydrateClient>;
 *
 * The input must match the client's useQuery/useInfiniteQuery input exactly, or the
 * client fetches again.
 */
import "server-only";
import { createHydrationHelpers } from "@trpc/react-query/rsc";
import { getServerSession } from "next-auth";
import { connection } from "next/server";
import { cache } from "react";
import { getDb } from "@/db/client";
import { makeQueryClient } from "@/lib/query-client";
import { getAuthOptions } from "../auth/options";
import type { RequestUser } from "../auth/request";
import { ensureStarted } from "../startup";
import { findUserById } from "../users";
import { createCaller, type AppRouter } from "./root";
import { createInnerContext, type Context } from "./trpc";

/**
 * The signed-in user of the current request, read fresh from the database (so a demoted
 * or deleted user loses access at once), or null. Pages check the role with this.
 */
export const getCurrentUser = cache(async (): Promise<RequestUser | null> => {
  // Reading the session makes the page dynamic; say so before start-up touches the disk,
  // so `next build` never opens a database while prerendering.
  await connection();
  ensureStarted();
  const session = await getServerSession(getAuthOptions());
  const id = session?.user?.id;
  if (typeof id !== "number") return null;
  const user = findUserById(getDb(), id);
  return user ? { id: user.id, username: user.username, role: user.role, via: "session" } : null;
});

const getContext = cache(
  async (): Promise<Context> => createInnerContext({ user: await getCurrentUser(), ip: null, userAgent: null }),
);

/** A caller of the app router acting as the current user (anonymous when signed out). */
export const getServerCaller = cache(async () => createCaller(await getContext()));

/** The per-request QueryClient that prefetches fill and <HydrateClient> dehydrates. */
const getQueryClient = cache(makeQueryClient);

const helpers = createHydrationHelpers<AppRouter>(createCaller(getContext), getQueryClient);

/** The caller with `.prefetch()` / `.prefetchInfinite()` on every query, for <HydrateClient>. */
export const api = helpers.trpc;

/** Hands the data prefetched through `api` to the client components inside it. */
export const HydrateClient = helpers.HydrateClient;
