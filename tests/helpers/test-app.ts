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
import { ensureStarted, resetStartup, startupSettled } from "@/server/startup";
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
  /** Resolves when start-up's background work (crash recovery, retention) is done. */
  ready: Promise<void>;
  cleanup: () => Promise<void>;
  /** Stops this app and starts a new one on the same folders (a process restart). */
  restart: () => Promise<TestApp>;
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

/**
 * Builds the app in a new temp folder, or (with `root`) starts it again on the folders a
 * previous app left behind, as a restart after a crash would.
 */
export function createTestApp(extraEnv: Record<string, string> = {}, options: { root?: string } = {}): TestApp {
  const root = options.root ?? makeTempDir();
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
  const userRow =
    db.query.users.findFirst({ where: (u, { eq }) => eq(u.username, "alice") }).sync() ??
    createUser(db, { username: "alice", password: USER_PASSWORD, role: "user" });
  const admin: RequestUser = { id: adminRow.id, username: adminRow.username, role: "admin", via: "session" };
  const user: RequestUser = { id: userRow.id, username: userRow.username, role: "user", via: "session" };
  const stop = async () => {
    await startupSettled();
    closeDatabase();
    useDatabase(undefined);
    setConfig(undefined);
    resetStartup();
  };
  return {
    root,
    config,
    // A getter: a restore closes the handle and opens the restored file under a new one.
    get db() {
      return getDb();
    },
    admin,
    user,
    env,
    ready: startupSettled(),
    caller: (who) => createCaller(createInnerContext({ user: who, db: getDb() })),
    cleanup: async () => {
      await stop();
      fs.rmSync(root, { recursive: true, force: true });
    },
    restart: async () => {
      await stop();
      return createTestApp(extraEnv, { root });
    },
  };
}
