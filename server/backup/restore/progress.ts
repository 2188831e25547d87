/**
 * Progress of the running restore in this process (one at a time), for the UI to poll.
 * On globalThis for the same reason as backup progress: one registry per process.
 */
import { runningJobs } from "../progress";
export interface RestoreProgress {
  backupId: number;
  step: string;
  filesDone: number;
  bytesDone: number;
  bytesTotal: number;
  startedAt: number;
}

const holder = globalThis as unknown as { __baluhostRestore?: RestoreProgress | null };

export function startRestoreProgress(backupId: number): RestoreProgress {
  holder.__baluhostRestore = { backupId, step: "preparing", filesDone: 0, bytesDone: 0, bytesTotal: 0, startedAt: Date.now() };
  return holder.__baluhostRestore;
}

export function finishRestoreProgress(progress: RestoreProgress): void {
  if (holder.__baluhostRestore === progress) holder.__baluhostRestore = null;
}

/**
 * The running restore's progress. During its safety backup the figures are that backup's
 * (a backup with known bytes: the restore holds the lock, so it is the only job running),
 * so the step shows real progress instead of sitting still.
 */
export function currentRestoreProgress(): RestoreProgress | null {
  const p = holder.__baluhostRestore ?? null;
  if (!p || p.step !== "safety backup") return p;
  const safety = runningJobs()[0]?.progress;
  return safety ? { ...p, filesDone: safety.filesDone, bytesDone: safety.bytesDone, bytesTotal: safety.bytesTotal } : { ...p, bytesDone: 0, bytesTotal: 0 };
}
