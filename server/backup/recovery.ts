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
import { acquireOperationLock, clearStaleLock, readLiveLock, type HeldLock } from "./lock";
import { runningJobs } from "./progress";
import { sweepStrayFiles } from "./retention";

export const INTERRUPTED_MESSAGE =
  "Interrupted: the process running this backup stopped before it finished (crash, restart or kill). Start a new backup.";

export async function recoverInterruptedBackups(
  db: AppDatabase,
  config: AppConfig,
  options: { lockHeld?: boolean } = {},
): Promise<number[]> {
  if ((!options.lockHeld && readLiveLock(config.backupPath)) || runningJobs().length) return [];
  clearStaleLock(config.backupPath);
  const stuck = db.select().from(backups).where(eq(backups.status, "in_progress")).all();
  for (const row of stuck) {
    await removeBackupFiles(config, row).catch(() => undefined);
    db.update(backups)
      .set({ status: "failed", completedAt: new Date(), errorMessage: INTERRUPTED_MESSAGE, errorCode: "BACKUP_FAILED" })
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

/**
 * Start-up work of the backup system: recover interrupted backups and sweep temporary
 * files. It holds the operation lock meanwhile, so a backup requested in the first moments
 * after start-up cannot have its fresh temporary files swept as leftovers (it waits).
 * Retention is not applied here: every process starts up (a CLI `user create` too), and
 * deleting backups is only for backup work and the web server's timer.
 */
export function startBackupSystem(db: AppDatabase, config: AppConfig): Promise<void> {
  holder.__baluhostRecovery = runStartupRecovery(db, config);
  return holder.__baluhostRecovery;
}

const holder = globalThis as unknown as { __baluhostRecovery?: Promise<void> };

/** Resolves once this process's start-up recovery is over; operations wait for it instead of failing with 409. */
export async function startupRecoveryDone(): Promise<void> {
  await holder.__baluhostRecovery?.catch(() => undefined);
}

async function runStartupRecovery(db: AppDatabase, config: AppConfig): Promise<void> {
  clearStaleLock(config.backupPath);
  let lock: HeldLock;
  try {
    lock = acquireOperationLock(config.backupPath, "maintenance", "start-up recovery");
  } catch {
    return; // a live process (the CLI, another server) is working: its state is not ours to fix
  }
  try {
    await recoverInterruptedBackups(db, config, { lockHeld: true });
  } finally {
    lock.release();
  }
}
