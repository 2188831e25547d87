/**
 * Live state of running operations in this process: progress figures for the UI and an
 * AbortController to cancel. Kept on globalThis because Next.js may load this module once
 * per bundle layer, and the tRPC handler that reads progress must see the job that the
 * create call started.
 */
export interface BackupProgress {
  phase: "preparing" | "snapshot" | "scanning" | "archiving" | "finalizing" | "done";
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  startedAt: number;
}

export interface RunningJob {
  backupId: number;
  progress: BackupProgress;
  controller: AbortController;
  done: Promise<void>;
}

const holder = globalThis as unknown as { __baluhostJobs?: Map<number, RunningJob> };

function jobs(): Map<number, RunningJob> {
  holder.__baluhostJobs ??= new Map();
  return holder.__baluhostJobs;
}

export function registerJob(job: RunningJob): void {
  jobs().set(job.backupId, job);
}

export function unregisterJob(backupId: number): void {
  jobs().delete(backupId);
}

export function getJob(backupId: number): RunningJob | undefined {
  return jobs().get(backupId);
}

export function runningJobs(): RunningJob[] {
  return [...jobs().values()];
}
