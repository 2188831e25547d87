/**
 * Who is making a request: a bearer API token, or else the next-auth session cookie.
 * The user is always read fresh from the database, so the role in effect is the current
 * one. Every door that takes HTTP requests (tRPC, REST route handlers) uses this.
 */
import { getServerSession, type Session } from "next-auth";
import { getDb } from "@/db/client";
import type { User, UserRole } from "@/db/schema";
import { authenticateToken } from "../tokens";
import { findUserById } from "../users";
import { getAuthOptions } from "./options";
import { bearerToken } from "./headers";

export { clientIpFromHeaders } from "./headers";

export interface RequestUser {
  id: number;
  username: string;
  role: UserRole;
  via: "session" | "token" | "cli";
}

/**
 * Reads the next-auth session. The default is the App Router form (it reads the request
 * through next/headers); a Pages API route passes the (req, res) form instead.
 */
export type SessionReader = () => Promise<Session | null>;

export interface ResolveOptions {
  readSession?: SessionReader;
}

export function requestUserOf(user: User, via: RequestUser["via"]): RequestUser {
  return { id: user.id, username: user.username, role: user.role, via };
}

export async function resolveRequestUser(req: Request, options: ResolveOptions = {}): Promise<RequestUser | null> {
  const db = getDb();
  // A bearer header decides alone: a bad token is not rescued by a cookie.
  if (req.headers.get("authorization")) {
    const token = bearerToken(req.headers);
    const user = token ? authenticateToken(db, token) : null;
    return user ? requestUserOf(user, "token") : null;
  }
  const session = await (options.readSession ?? (() => getServerSession(getAuthOptions())))();
  const id = (session?.user as { id?: number } | undefined)?.id;
  if (typeof id !== "number") return null;
  const user = findUserById(db, id);
  return user ? requestUserOf(user, "session") : null;
}
