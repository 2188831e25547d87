/**
 * A complete app in a temp folder: its own config, SQLite file (migrated), storage,
 * config and backup folders, an admin and a normal user, and callers for the real
 * router. Every test that needs the app builds one and calls cleanup() after.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { closeDatabase, getDb, setDatabaseLocator, useDatabase, type AppDatabase } from "@/db/client";
import { createCaller } from "@/server/api/root";
import { createInnerContext } from "@/server/api/trpc";
import type { RequestUser } from "@/server/auth/request";
import { ensureDirectories, parseConfig, setConfig, type AppConfig } from "@/server/config";
import { ensureStarted, resetStartup } from "@/server/startup";
import { createUser } from "@/server/users";

export const ADMIN_PASSWORD = "admin-password-1";
export const USER_PASSWORD = "user-password-1";

export interface TestApp {
  root: string;
  config: AppConfig;
  db: AppDatabase;
  admin: RequestUser;
  user: RequestUser;
  /** A caller of the real router acting as `who` (null = anonymous). */
  caller: (who: RequestUser | null) => ReturnType<typeof createCaller>;
  env: Record<string, string>;
  cleanup: () => void;
}

export function makeTempDir(prefix = "baluhost-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function testEnv(root: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NAS_DATABASE_PATH: path.join(root, "data", "baluhost.db"),
    NAS_STORAGE_PATH: path.join(root, "data", "storage"),
    NAS_CONFIG_PATH: path.join(root, "data", "config"),
    NAS_BACKUP_PATH: path.join(root, "backups"),
    ADMIN_PASSWORD,
    ...extra,
  };
}

export function createTestApp(extraEnv: Record<string, string> = {}): TestApp {
  const root = makeTempDir();
  const env = testEnv(root, extraEnv);
  const config = parseConfig(env);
  closeDatabase();
  resetStartup();
  setConfig(config);
  ensureDirectories(config);
  setDatabaseLocator(() => config.databasePath);
  ensureStarted({ announceAdminPassword: false });
  const db = getDb();
  const adminRow = db.query.users.findFirst({ where: (u, { eq }) => eq(u.username, "admin") }).sync();
  if (!adminRow) throw new Error("bootstrap did not create admin");
  const userRow = createUser(db, { username: "alice", password: USER_PASSWORD, role: "user" });
  const admin: RequestUser = { id: adminRow.id, username: adminRow.username, role: "admin", via: "session" };
  const user: RequestUser = { id: userRow.id, username: userRow.username, role: "user", via: "session" };
  return {
    root,
    config,
    db,
    admin,
    user,
    env,
    caller: (who) => createCaller(createInnerContext({ user: who, db: getDb() })),
    cleanup: () => {
      closeDatabase();
      useDatabase(undefined);
      setConfig(undefined);
      resetStartup();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
