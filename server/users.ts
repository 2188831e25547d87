/**
 * Users and passwords. Passwords are hashed with node:crypto scrypt (salted, parameters
 * stored with the hash so they can be raised later); verification is constant-time.
 */
import crypto from "node:crypto";
import { eq, sql } from "drizzle-orm";
import type { AppDatabase } from "@/db/client";
import { users, type User, type UserRole } from "@/db/schema";
import { AppError } from "./errors";

const SCRYPT = { N: 16384, r: 8, p: 1, keyLength: 64 } as const;

export function hashPassword(password: string): string {
  const salt = crypto.randomBytes(16);
  const key = crypto.scryptSync(password, salt, SCRYPT.keyLength, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString("base64")}$${key.toString("base64")}`;
}

/** A stored hash that does not parse never verifies (an empty key would otherwise match any password). */
export function verifyPassword(password: string, stored: string): boolean {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [, n, r, p, saltB64, keyB64] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(keyB64, "base64");
  const salt = Buffer.from(saltB64, "base64");
  if (expected.length < 16 || salt.length < 8) return false;
  try {
    const actual = crypto.scryptSync(password, salt, expected.length, {
      N: Number(n),
      r: Number(r),
      p: Number(p),
      maxmem: 256 * 1024 * 1024,
    });
    return crypto.timingSafeEqual(actual, expected);
  } catch {
    return false; // parameters out of range: a corrupt hash, not a match
  }
}

/** A hash of a random password, so "unknown user" costs the same time as "wrong password". */
let decoyHash: string | undefined;
export function verifyAgainstDecoy(password: string): false {
  decoyHash ??= hashPassword(crypto.randomBytes(16).toString("hex"));
  verifyPassword(password, decoyHash);
  return false;
}

export const USERNAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$/;
export const MIN_PASSWORD_LENGTH = 8;

function assertValidCredentials(username: string, password: string): void {
  if (!USERNAME_PATTERN.test(username)) {
    throw new AppError(
      "BAD_REQUEST",
      "Username must be 1-64 characters: letters, digits, dot, dash or underscore, starting with a letter or digit.",
    );
  }
  assertValidPassword(password);
}

function assertValidPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new AppError("BAD_REQUEST", `Password must be at least ${MIN_PASSWORD_LENGTH} characters.`);
  }
}

export function createUser(db: AppDatabase, input: { username: string; password: string; role: UserRole }): User {
  assertValidCredentials(input.username, input.password);
  if (findUserByName(db, input.username)) {
    throw new AppError("CONFLICT", `User "${input.username}" already exists.`);
  }
  return db
    .insert(users)
    .values({ username: input.username, passwordHash: hashPassword(input.password), role: input.role })
    .returning()
    .get();
}

export function resetPassword(db: AppDatabase, username: string, password: string): User {
  assertValidPassword(password);
  const user = findUserByName(db, username);
  if (!user) throw new AppError("NOT_FOUND", `User "${username}" does not exist.`);
  return db.update(users).set({ passwordHash: hashPassword(password) }).where(eq(users.id, user.id)).returning().get();
}

export function findUserByName(db: AppDatabase, username: string): User | undefined {
  return db.select().from(users).where(eq(users.username, username)).get();
}

export function findUserById(db: AppDatabase, id: number): User | undefined {
  return db.select().from(users).where(eq(users.id, id)).get();
}

/** Checks a login; returns the user or null, taking the same time whether or not the user exists. */
export function checkCredentials(db: AppDatabase, username: string, password: string): User | null {
  const user = findUserByName(db, username);
  if (!user) return verifyAgainstDecoy(password) || null;
  return verifyPassword(password, user.passwordHash) ? user : null;
}

export interface BootstrapResult {
  created: boolean;
  username?: string;
  /** Set only when the password was generated: the caller prints it once. */
  generatedPassword?: string;
}

/**
 * On a database with no users, creates `admin` with the given password or a random one.
 * Runs in a transaction so two processes starting at once cannot both create it.
 */
export function bootstrapAdmin(db: AppDatabase, adminPassword?: string): BootstrapResult {
  const generated = adminPassword ? undefined : crypto.randomBytes(12).toString("base64url");
  const password = adminPassword ?? generated!;
  const hash = hashPassword(password);
  return db.transaction((tx) => {
    const count = tx.select({ n: sql<number>`count(*)` }).from(users).get()?.n ?? 0;
    if (count > 0) return { created: false };
    tx.insert(users).values({ username: "admin", passwordHash: hash, role: "admin" }).run();
    return { created: true, username: "admin", generatedPassword: generated };
  }, { behavior: "immediate" });
}
