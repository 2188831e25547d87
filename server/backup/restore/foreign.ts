/**
 * Archives made elsewhere: by the real BaluHost (Python, SQLAlchemy, tarfile) or by hand in the
 * spec layout, without our manifest. Import and restore reach this module through a few small
 * calls; everything that is particular to such archives is decided here.
 *
 * What such an archive lacks, and what follows from it:
 * - No list of every file (our manifest): a restore can only add and replace the files it holds,
 *   it cannot know what was deleted since (the row's file_list is false; the swap merges).
 * - No hashes: what is checked is the gzip CRC and length of every member, the tar structure
 *   and header checksums, every entry's name, type and declared size, and SQLite's integrity
 *   check of the database.
 * - Its database may be another application's (the real BaluHost's SQLAlchemy tables are not
 *   ours): such a database is never put in place, because this app could not start on it. It is
 *   recognised at import (no drizzle migration history, or not our tables) and refused before
 *   a restore touches anything; files and config still restore.
 * - Its type is read from the contents; the real BaluHost's incremental (only the files newer
 *   than its previous backup) is recognised from the backup's own row, which that backend
 *   inserts into its `backups` table before it copies the database, or declared by the admin.
 *   It needs no parent here: restoring it adds and replaces the files it holds.
 */
import Database from "better-sqlite3";
import { BACKUP_TYPES, type Backup, type BackupType } from "@/db/schema";
import { AppError } from "../../errors";

/** The tables every BaluHost (this application) database has, besides drizzle's migration log. */
const OUR_TABLES = ["users", "backups", "audit_log", "settings", "api_tokens"] as const;
const MIGRATIONS_TABLE = "__drizzle_migrations";

export interface ArchivedDatabase {
  /** This application's database (migration history and our tables). */
  ours: boolean;
  /** Another application's: the type its own `backups` row gives the backup being made, if any. */
  ownBackupType: BackupType | null;
}

/**
 * Looks at an archived database (a private copy, its -wal already beside it) without running
 * anything from it: read-only, trusted_schema off, only sqlite_master and one plain SELECT.
 */
export function inspectArchivedDatabase(file: string): ArchivedDatabase {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma("trusted_schema = OFF");
    const tables = new Set(
      (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((t) => t.name),
    );
    const ours = tables.has(MIGRATIONS_TABLE) && OUR_TABLES.every((t) => tables.has(t));
    return { ours, ownBackupType: ours ? null : ownBackupType(db, tables) };
  } finally {
    db.close();
  }
}

/**
 * The real BaluHost writes the running backup's row (status "in_progress") before copying
 * its database, so the newest such row is the archive's own. Anything unexpected (another
 * schema, an unknown type) means "not known", never a failure.
 */
function ownBackupType(db: Database.Database, tables: Set<string>): BackupType | null {
  if (!tables.has("backups")) return null;
  try {
    const row = db.prepare("SELECT backup_type AS type FROM backups WHERE status = 'in_progress' ORDER BY id DESC LIMIT 1").get() as
      | { type: unknown }
      | undefined;
    const type = typeof row?.type === "string" ? row.type.toLowerCase() : null;
    return type && (BACKUP_TYPES as readonly string[]).includes(type) ? (type as BackupType) : null;
  } catch {
    return null;
  }
}

export interface ForeignContents {
  database: boolean;
  files: boolean;
  config: boolean;
  /** Regular files under files/. */
  fileCount: number;
  /** What inspectArchivedDatabase found; null without a database. */
  archivedDatabase: ArchivedDatabase | null;
}

export interface ForeignDescription {
  type: BackupType;
  includesDatabase: boolean;
  includesFiles: boolean;
  includesConfig: boolean;
  fileCount: number;
  foreignDatabase: boolean;
}

/**
 * The catalog's description of an archive without our manifest. `declared` is the type the
 * admin gave (upload `?backup_type=`, CLI `--type`); it must fit the contents.
 */
export function describeForeignArchive(contents: ForeignContents, declared?: BackupType): ForeignDescription {
  const { database, files, config } = contents;
  const fromContents: BackupType =
    database && files ? "full" : database ? "database_only" : files ? "files_only" : "config_only";
  const recognised = contents.archivedDatabase?.ownBackupType === "incremental" && files ? "incremental" : fromContents;
  const type = declared ?? recognised;
  const fits: Record<BackupType, boolean> = {
    full: database && files,
    incremental: files,
    database_only: database && !files,
    files_only: files && !database,
    config_only: config && !database && !files,
  };
  if (!fits[type]) {
    const holds = [database && "a database", files && "files", config && "config"].filter(Boolean).join(", ") || "nothing";
    throw new AppError("BAD_REQUEST", `The archive cannot be a ${type.replace("_", " ")} backup: it holds ${holds}. Leave the type out to have it read from the contents.`);
  }
  return {
    type,
    includesDatabase: database,
    includesFiles: files,
    includesConfig: config,
    fileCount: contents.fileCount,
    foreignDatabase: database && contents.archivedDatabase?.ours !== true,
  };
}

export function foreignDatabaseMessage(what: string): string {
  return (
    `The database in ${what} is another application's (for example the original BaluHost's, whose tables are not this app's): ` +
    "restoring it would leave an app that cannot start, so it is never restored. " +
    "Restore the files and config only (restore_database: false; on the command line --no-database)."
  );
}

/** Refuses, before anything is touched, a restore that asks for a foreign database. */
export function refuseForeignDatabase(row: Pick<Backup, "id" | "filename" | "foreignDatabase">, parts: { database: boolean }): void {
  if (parts.database && row.foreignDatabase) {
    throw new AppError("INCOMPATIBLE_VERSION", foreignDatabaseMessage(row.filename), {
      details: { reason: "foreign_database", restore_database: false },
    });
  }
}

/** The staged database must be ours even if the catalog said so wrongly (an archive imported before this check). */
export function assertOwnDatabase(file: string, what: string): void {
  if (!inspectArchivedDatabase(file).ours) {
    throw new AppError("INCOMPATIBLE_VERSION", foreignDatabaseMessage(what), { details: { reason: "foreign_database", restore_database: false } });
  }
}
