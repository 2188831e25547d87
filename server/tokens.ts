/**
 * API tokens for scripts and internal clients. A token is shown once at creation; only
 * its SHA-256 is stored (tokens are 256 random bits, so a fast hash is enough and lets
 * a lookup by hash be indexed). A token acts as its user, with that user's current role.
 */
import crypto from "node:crypto";
import { and, desc, eq, isNull } from "drizzle-orm";
import type { AppDatabase } from "@/db/client";
import { apiTokens, users, type User } from "@/db/schema";
import { AppError } from "./errors";

const TOKEN_PREFIX = "bh_";

export function hashToken(token: string): string {
  return crypto.createHash("sha256").update(token).digest("hex");
}

export interface CreatedToken {
  id: number;
  name: string;
  token: string;
  tokenPrefix: string;
  createdAt: Date;
}

export function createApiToken(db: AppDatabase, input: { userId: number; name: string }): CreatedToken {
  const name = input.name.trim();
  if (!name || name.length > 100) throw new AppError("BAD_REQUEST", "Token name must be 1-100 characters.");
  const user = db.select().from(users).where(eq(users.id, input.userId)).get();
  if (!user) throw new AppError("NOT_FOUND", `User ${input.userId} does not exist.`);
  const token = TOKEN_PREFIX + crypto.randomBytes(32).toString("base64url");
  const row = db
    .insert(apiTokens)
    .values({ userId: user.id, name, tokenHash: hashToken(token), tokenPrefix: token.slice(0, 10) })
    .returning()
    .get();
  return { id: row.id, name: row.name, token, tokenPrefix: row.tokenPrefix, createdAt: row.createdAt };
}

export function listApiTokens(db: AppDatabase) {
  return db
    .select({
      id: apiTokens.id,
      name: apiTokens.name,
      tokenPrefix: apiTokens.tokenPrefix,
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

/** The user a bearer token belongs to, or null for an unknown or revoked token. */
export function authenticateToken(db: AppDatabase, token: string): User | null {
  if (!token.startsWith(TOKEN_PREFIX)) return null;
  const row = db
    .select({ tokenId: apiTokens.id, user: users })
    .from(apiTokens)
    .innerJoin(users, eq(apiTokens.userId, users.id))
    .where(and(eq(apiTokens.tokenHash, hashToken(token)), isNull(apiTokens.revokedAt)))
    .get();
  if (!row) return null;
  db.update(apiTokens).set({ lastUsedAt: new Date() }).where(eq(apiTokens.id, row.tokenId)).run();
  return row.user;
}
