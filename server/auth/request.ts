/**
 * Who is making a request: a bearer API token, or else the next-auth session cookie.
 * The user is always read fresh from the database, so the role in effect is the current
 * one. Every door that takes HTTP requests (tRPC, REST route handlers) uses this.
 */
import { getServerSession } from "next-auth";
import { getDb } from "@/db/client";
import type { UserRole } from "@/db/schema";
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

export async function resolveRequestUser(req: Request): Promise<RequestUser | null> {
  const db = getDb();
  // A bearer header decides alone: a bad token is not rescued by a cookie.
  if (req.headers.get("authorization")) {
    const token = bearerToken(req.headers);
    const user = token ? authenticateToken(db, token) : null;
    return user ? { id: user.id, username: user.username, role: user.role, via: "token" } : null;
  }
  const session = await getServerSession(getAuthOptions());
  const id = (session?.user as { id?: number } | undefined)?.id;
  if (typeof id !== "number") return null;
  const user = findUserById(db, id);
  return user ? { id: user.id, username: user.username, role: user.role, via: "session" } : null;
}
