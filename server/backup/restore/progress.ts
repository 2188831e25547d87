/**
 * Progress of the running restore in this process (one at a time), for the UI to poll.
 * On globalThis for the same reason as backup progress: one registry per process.
 */
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

export function currentRestoreProgress(): RestoreProgress | null {
  return holder.__baluhostRestore ?? null;
}
