/**
 * A consistent copy of the live database, taken with SQLite's online backup API while
 * the app keeps serving writes (a copy of the live file could catch a half-written page
 * or miss the WAL). The copy is switched out of WAL mode, so it is one self-contained
 * file, and must pass `PRAGMA integrity_check` before anything packs it.
 */
import fs from "node:fs";
import Database from "better-sqlite3";
import { AppError } from "../errors";
import { fsyncFile } from "./fs-safe";

export async function snapshotDatabase(source: Database.Database, destPath: string): Promise<{ sizeBytes: number }> {
  await source.backup(destPath);
  const snapshot = new Database(destPath);
  try {
    snapshot.pragma("journal_mode = DELETE");
    const result = snapshot.pragma("integrity_check") as Array<{ integrity_check: string }>;
    const problems = result.map((r) => r.integrity_check).filter((r) => r !== "ok");
    if (problems.length) {
      throw new AppError(
        "INTERNAL",
        `The database snapshot failed its integrity check (${problems.slice(0, 3).join("; ")}). ` +
          "The live database may be damaged: run a database-only backup again, and check the disk.",
      );
    }
  } finally {
    snapshot.close();
  }
  await fsyncFile(destPath);
  return { sizeBytes: fs.statSync(destPath).size };
}
