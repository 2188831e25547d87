/**
 * `PRAGMA integrity_check` of a database file taken from an archive (a private copy in a
 * temporary folder, with its -wal beside it for foreign archives).
 *
 * Opened read-only, with trusted_schema off (no SQL functions from a hostile schema run in
 * views or triggers). better-sqlite3 is synchronous: the check blocks the event loop for its
 * duration, roughly 1 s per few hundred MB of database; BaluHost's catalog databases are small.
 */
import Database from "better-sqlite3";
import { refuse } from "./extract-errors";

export function checkDatabaseIntegrity(file: string, entry = "backup/database/baluhost.db"): void {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    return refuse("database", `its database (${entry}) cannot be opened as SQLite (${(err as Error).message})`, entry, err);
  }
  try {
    db.pragma("trusted_schema = OFF");
    const rows = db.pragma("integrity_check") as Array<{ integrity_check: string }>;
    const problems = rows.map((r) => r.integrity_check).filter((r) => r !== "ok");
    if (problems.length > 0) {
      refuse("database", `its database (${entry}) fails SQLite's integrity check (${problems.slice(0, 3).join("; ")})`, entry);
    }
  } catch (err) {
    if ((err as Error).name === "ArchiveRefusal") throw err;
    refuse("database", `its database (${entry}) is damaged (${(err as Error).message})`, entry, err);
  } finally {
    db.close();
  }
}
