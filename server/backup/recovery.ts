/**
 * Start-up recovery after a crash or kill -9. A backup row still `in_progress` whose
 * process is gone can never finish: it becomes `failed` ("interrupted") and its temporary
 * files are removed. When a live process holds the operation lock (the CLI running a
 * backup while the server starts), its work is left alone.
 */
import { eq } from "drizzle-orm";
import type { AppDatabase } from "@/db/client";
import { backups } from "@/db/schema";
import { recordAudit, SYSTEM_ACTOR } from "../audit";
import type { AppConfig } from "../config";
import { removeBackupFiles } from "./catalog";
import { clearStaleLock, readLiveLock } from "./lock";
import { runningJobs } from "./progress";
import { applyRetention, sweepStrayFiles } from "./retention";

export const INTERRUPTED_MESSAGE =
  "Interrupted: the process running this backup stopped before it finished (crash, restart or kill). Start a new backup.";

export async function recoverInterruptedBackups(db: AppDatabase, config: AppConfig): Promise<number[]> {
  if (readLiveLock(config.backupPath) || runningJobs().length) return [];
  clearStaleLock(config.backupPath);
  const stuck = db.select().from(backups).where(eq(backups.status, "in_progress")).all();
  for (const row of stuck) {
    await removeBackupFiles(config, row.filename).catch(() => undefined);
    db.update(backups)
      .set({ status: "failed", completedAt: new Date(), errorMessage: INTERRUPTED_MESSAGE })
      .where(eq(backups.id, row.id))
      .run();
    recordAudit(db, {
      action: "backup.interrupted",
      actor: SYSTEM_ACTOR,
      resource: `backup:${row.id}`,
      success: false,
      errorMessage: INTERRUPTED_MESSAGE,
      details: { filename: row.filename },
    });
  }
  await sweepStrayFiles(db, config);
  return stuck.map((r) => r.id);
}

/** Start-up work of the backup system: recover, then apply retention. */
export async function startBackupSystem(db: AppDatabase, config: AppConfig): Promise<void> {
  await recoverInterruptedBackups(db, config);
  if (!readLiveLock(config.backupPath)) await applyRetention({ db, config, sweep: false });
}
