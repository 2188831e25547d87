/**
 * The one database handle of the process. Everything (tRPC, route handlers, server
 * components, the CLI, the backup engine) reaches SQLite through getDb(), which reads a
 * holder on globalThis: Next.js may load this module more than once (one copy per
 * bundle layer), and a restore swaps the database file underneath all of them, so the
 * handle must live in one place that reopenDatabase() can replace.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { drizzle, type BetterSQLite3Database } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import * as schema from "./schema";

export type AppDatabase = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

export interface DatabaseHandle {
  file: string;
  /** The file's inode when opened: a different one at the path means the file was replaced. */
  inode: number | null;
  sqlite: Database.Database;
  db: AppDatabase;
}

export const MIGRATIONS_DIR = path.resolve(
  process.env.NAS_MIGRATIONS_PATH ?? path.join(process.cwd(), "db", "migrations"),
);

/** The number of migrations this build ships: the schema level a backup is compared with. */
export function shippedMigrationLevel(migrationsDir = MIGRATIONS_DIR): number {
  const journal = JSON.parse(
    fs.readFileSync(path.join(migrationsDir, "meta", "_journal.json"), "utf8"),
  ) as { entries: unknown[] };
  return journal.entries.length;
}

/** The number of migrations applied to an open database (0 for a database never migrated). */
export function appliedMigrationLevel(sqlite: Database.Database): number {
  const table = sqlite
    .prepare("SELECT name FROM sqlite_master WHERE type='table' AND name='__drizzle_migrations'")
    .get();
  if (!table) return 0;
  return (sqlite.prepare("SELECT COUNT(*) AS n FROM __drizzle_migrations").get() as { n: number }).n;
}

/** Opens a database file with the pragmas the app relies on and applies pending migrations. */
export function openDatabase(file: string, options: { migrate?: boolean } = {}): DatabaseHandle {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new Database(file);
  // WAL lets the backup snapshot and readers run while the app writes.
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  const db = drizzle(sqlite, { schema });
  if (options.migrate !== false) migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  return { file, sqlite, db, inode: fileInode(file) };
}

const holder = globalThis as unknown as {
  __baluhostDb?: DatabaseHandle;
  __baluhostDbFile?: () => string;
  __baluhostDbUnavailable?: string;
};

function fileInode(file: string): number | null {
  try {
    return fs.statSync(file).ino;
  } catch {
    return null;
  }
}

/** Tells getDb() where the database lives (the config's path); called once at start-up. */
export function setDatabaseLocator(locate: () => string): void {
  holder.__baluhostDbFile = locate;
}

/**
 * Refuses every further use of the database in this process (a restore that committed but
 * could not finish): opening the live path then could create an empty database in its place.
 */
export function markDatabaseUnavailable(reason: string): void {
  closeDatabase();
  holder.__baluhostDbUnavailable = reason;
}

/** The current handle, opened (and migrated) on first use. */
export function getDatabaseHandle(): DatabaseHandle {
  if (holder.__baluhostDbUnavailable) throw new Error(holder.__baluhostDbUnavailable);
  const current = holder.__baluhostDb;
  // Another process (a CLI restore) may have swapped the file under this handle: reopen then.
  if (current && current.inode !== fileInode(current.file)) closeDatabase();
  if (!holder.__baluhostDb) {
    const locate = holder.__baluhostDbFile;
    if (!locate) throw new Error("database location not set: call setDatabaseLocator() first");
    holder.__baluhostDb = openDatabase(locate());
  }
  return holder.__baluhostDb;
}

export function getDb(): AppDatabase {
  return getDatabaseHandle().db;
}

/** Closes the handle; the next getDb() opens the file again (used around a restore swap). */
export function closeDatabase(): void {
  const current = holder.__baluhostDb;
  holder.__baluhostDb = undefined;
  if (current?.sqlite.open) current.sqlite.close();
}

/** Uses an already open handle as the process database (tests inject their own). */
export function useDatabase(handle: DatabaseHandle | undefined): void {
  holder.__baluhostDb = handle;
  holder.__baluhostDbUnavailable = undefined;
}
