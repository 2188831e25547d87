/**
 * API tokens for scripts and internal clients. A token is shown once at creation; only
 * its SHA-256 is stored (tokens are 256 random bits, so a fast hash is enough and lets
 * a lookup by hash be indexed). A token acts as its user, with that user's current role.
 *
 * Scope: a "full" token acts as its user everywhere; a "monitoring" token is accepted only
 * by the health and metrics endpoints (authenticateToken refuses it unless the caller asks
 * for it), so a Prometheus scraper or uptime checker never holds an admin's powers.
 */
import crypto from "node:crypto";
import { and, desc, eq, isNull } from "drizzle-orm";
import type { AppDatabase } from "@/db/client";
import { apiTokens, users, type ApiToken, type User } from "@/db/schema";
import { AppError } from "./errors";

const TOKEN_PREFIX = "bh_";

export const TOKEN_SCOPES = ["full", "monitoring"] as const;
export type TokenScope = ApiToken["scope"];

export function hashToken(token: string): string {
  return crypto.createHash("sha256").update(token).digest("hex");
}

export interface CreatedToken {
  id: number;
  name: string;
  token: string;
  tokenPrefix: string;
  scope: TokenScope;
  createdAt: Date;
}

export function createApiToken(db: AppDatabase, input: { userId: number; name: string; scope?: TokenScope }): CreatedToken {
  const name = input.name.trim();
  if (!name || name.length > 100) throw new AppError("BAD_REQUEST", "Token name must be 1-100 characters.");
  const user = db.select().from(users).where(eq(users.id, input.userId)).get();
  if (!user) throw new AppError("NOT_FOUND", `User ${input.userId} does not exist.`);
  const token = TOKEN_PREFIX + crypto.randomBytes(32).toString("base64url");
  const row = db
    .insert(apiTokens)
    .values({ userId: user.id, name, tokenHash: hashToken(token), tokenPrefix: token.slice(0, 10), scope: input.scope ?? "full" })
    .returning()
    .get();
  return { id: row.id, name: row.name, token, tokenPrefix: row.tokenPrefix, scope: row.scope, createdAt: row.createdAt };
}

export function listApiTokens(db: AppDatabase) {
  return db
    .select({
      id: apiTokens.id,
      name: apiTokens.name,
      tokenPrefix: apiTokens.tokenPrefix,
      scope: apiTokens.scope,
      createdAt: apiTokens.createdAt,
      lastUsedAt: apiTokens.lastUsedAt,
      revokedAt: apiTokens.revokedAt,
      userId: apiTokens.userId,
      username: users.username,
    })
    .from(apiTokens)
    .innerJoin(users, eq(apiTokens.userId, users.id))
    .orderBy(desc(apiTokens.id))
    .all();
}

export function revokeApiToken(db: AppDatabase, id: number): { id: number; name: string } {
  const row = db.select().from(apiTokens).where(eq(apiTokens.id, id)).get();
  if (!row) throw new AppError("NOT_FOUND", `API token ${id} does not exist.`);
  if (!row.revokedAt) db.update(apiTokens).set({ revokedAt: new Date() }).where(eq(apiTokens.id, id)).run();
  return { id: row.id, name: row.name };
}

/**
 * The user a full-scope bearer token belongs to, or null for an unknown, revoked or
 * monitoring token: every door that calls this refuses monitoring tokens without having
 * to think of them. Only the health and metrics endpoints accept more (`scopes`).
 */
export function authenticateToken(db: AppDatabase, token: string): User | null {
  return authenticateScopedToken(db, token, ["full"])?.user ?? null;
}

/**
 * The user and scope of a bearer token whose scope is one of `scopes`; null for an unknown,
 * revoked or out-of-scope token. Only an accepted use counts as "last used".
 */
export function authenticateScopedToken(
  db: AppDatabase,
  token: string,
  scopes: readonly TokenScope[],
): { user: User; scope: TokenScope } | null {
  const found = findActiveToken(db, token);
  if (!found || !scopes.includes(found.scope)) return null;
  db.update(apiTokens).set({ lastUsedAt: new Date() }).where(eq(apiTokens.id, found.tokenId)).run();
  return { user: found.user, scope: found.scope };
}

/** The scope of an active token, or null: lets a door say why it refuses a monitoring token. */
export function activeTokenScope(db: AppDatabase, token: string): TokenScope | null {
  return findActiveToken(db, token)?.scope ?? null;
}

function findActiveToken(db: AppDatabase, token: string) {
  if (!token.startsWith(TOKEN_PREFIX)) return null;
  return (
    db
      .select({ tokenId: apiTokens.id, scope: apiTokens.scope, user: users })
      .from(apiTokens)
      .innerJoin(users, eq(apiTokens.userId, users.id))
      .where(and(eq(apiTokens.tokenHash, hashToken(token)), isNull(apiTokens.revokedAt)))
      .get() ?? null
  );
}
