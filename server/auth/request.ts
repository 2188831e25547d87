/**
 * Who is making a request: a bearer API token, or else the next-auth session cookie.
 * The user is always read fresh from the database, so the role in effect is the current
 * one. Every door that takes HTTP requests (tRPC, REST route handlers) uses this.
 *
 * Credentials in the URL (`?token=`) are read only when the caller passes `urlCredential`,
 * which only the download route does: a URL ends up in browser history, proxy logs and
 * Referer headers, so everywhere else `?token=` is ignored.
 *
 * A monitoring-scope API token is refused (403, saying why) unless the door passes
 * `acceptMonitoringToken`, which only the health and metrics endpoints do.
 */
import { getServerSession, type Session } from "next-auth";
import { getDb } from "@/db/client";
import type { User, UserRole } from "@/db/schema";
import { AppError } from "../errors";
import { activeTokenScope, authenticateScopedToken } from "../tokens";
import { findUserById } from "../users";
import { getAuthOptions } from "./options";
import { bearerToken } from "./headers";

export { clientIpFromHeaders } from "./headers";

export interface RequestUser {
  id: number;
  username: string;
  role: UserRole;
  via: "session" | "token" | "cli" | "download-link";
  /** Set for a monitoring-scope token: it may only read health and metrics. */
  scope?: "monitoring";
}

export const MONITORING_TOKEN_REFUSAL =
  "This API token has the monitoring scope: it can only read GET /api/health/backups and GET /api/metrics. " +
  "Use a full token (Admin → API tokens) for anything else.";

/** Checks a credential taken from `?token=`; returns the user, null when unknown, or throws an AppError saying why. */
export type UrlCredentialCheck = (token: string) => Promise<RequestUser | null> | RequestUser | null;

/**
 * Reads the next-auth session. The default is the App Router form (it reads the request
 * through next/headers); a Pages API route passes the (req, res) form instead.
 */
export type SessionReader = () => Promise<Session | null>;

export interface ResolveOptions {
  urlCredential?: UrlCredentialCheck;
  readSession?: SessionReader;
  /** Accept a monitoring-scope bearer token (health and metrics only). */
  acceptMonitoringToken?: boolean;
}

export function requestUserOf(user: User, via: RequestUser["via"]): RequestUser {
  return { id: user.id, username: user.username, role: user.role, via };
}

/** The `?token=` of a URL, or null. */
export function urlToken(req: Request): string | null {
  return new URL(req.url).searchParams.get("token");
}

export async function resolveRequestUser(req: Request, options: ResolveOptions = {}): Promise<RequestUser | null> {
  const db = getDb();
  // A bearer header decides alone: a bad token is not rescued by a cookie.
  if (req.headers.get("authorization")) {
    const token = bearerToken(req.headers);
    if (!token) return null;
    const found = authenticateScopedToken(db, token, options.acceptMonitoringToken ? ["full", "monitoring"] : ["full"]);
    if (!found) {
      if (activeTokenScope(db, token) === "monitoring") throw new AppError("FORBIDDEN", MONITORING_TOKEN_REFUSAL);
      return null;
    }
    const user = requestUserOf(found.user, "token");
    return found.scope === "monitoring" ? { ...user, scope: "monitoring" } : user;
  }
  // So does a token in the URL where one is accepted: an expired link must say so, not
  // quietly fall back to whoever's cookie the browser happens to hold.
  const fromUrl = options.urlCredential ? urlToken(req) : null;
  if (fromUrl !== null && options.urlCredential) return options.urlCredential(fromUrl);
  const session = await (options.readSession ?? (() => getServerSession(getAuthOptions())))();
  const id = (session?.user as { id?: number } | undefined)?.id;
  if (typeof id !== "number") return null;
  const user = findUserById(db, id);
  return user ? requestUserOf(user, "session") : null;
}
