/**
 * One backup or restore at a time, across processes (the web server and the CLI may both
 * try). The lock is a file in the backup folder that appears atomically with its content
 * (see createLockFile), holding the owner's pid and process start time. A lock whose
 * owner is gone (kill -9, power loss) is stale and is taken over: checking the start time
 * too means a recycled pid does not keep a dead lock alive.
 */
import { formatDuration } from "@/lib/format";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { AppError } from "../errors";

export type OperationKind = "backup" | "restore" | "maintenance";

export interface LockInfo {
  pid: number;
  /** Kernel start time of the owner (Linux), to tell a recycled pid from the owner. */
  startTime: string | null;
  operation: OperationKind;
  /** What is running, e.g. "backup 12". */
  subject: string;
  startedAt: string;
  token: string;
}

export const LOCK_FILENAME = ".operation.lock";
export const OPERATION_IN_PROGRESS_MESSAGE =
  "Another backup or restore is in progress. Wait for it to finish, then try again.";

/** State (field 3) and start time (field 22) of a process from /proc (Linux), or null. */
function procStat(pid: number): { state: string; startTime: string | null } | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the ")" that closes the command name, starting with field 3.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0] ?? "", startTime: fields[19] ?? null };
  } catch {
    return null;
  }
}

function processStartTime(pid: number): string | null {
  return procStat(pid)?.startTime ?? null;
}

/** This process as an owner of files others must leave alone: pid and kernel start time. */
export function currentProcessOwner(): { pid: number; startTime: string | null } {
  return { pid: process.pid, startTime: processStartTime(process.pid) };
}

/**
 * Whether the process that owns something (a lock, a temporary file) is still running: its
 * pid exists, is no zombie, and started when the owner recorded (a recycled pid is not it).
 */
export function isOwnerAlive(owner: { pid: number; startTime: string | null }): boolean {
  return owner.pid > 0 && isAlive(owner);
}

function isAlive(info: Pick<LockInfo, "pid" | "startTime">): boolean {
  try {
    process.kill(info.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const stat = procStat(info.pid);
  // A zombie has exited and only waits for its parent to collect it: in a container whose
  // init does not reap orphans, that can be forever, and its lock would never go stale.
  if (stat?.state === "Z" || stat?.state === "X") return false;
  const now = stat?.startTime ?? null;
  return info.startTime === null || now === null || now === info.startTime;
}

export function lockPath(backupDir: string): string {
  return path.join(backupDir, LOCK_FILENAME);
}

function readLock(backupDir: string): LockInfo | null {
  try {
    return JSON.parse(fs.readFileSync(lockPath(backupDir), "utf8")) as LockInfo;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    // A lock torn by a crash mid-write: its owner never got going; treat it as stale.
    if (err instanceof SyntaxError) return { pid: -1, startTime: null, operation: "backup", subject: "?", startedAt: "", token: "torn" };
    throw err;
  }
}

/** The current lock if its owner is alive; a stale lock reads as none. */
export function readLiveLock(backupDir: string): LockInfo | null {
  const info = readLock(backupDir);
  return info && info.pid > 0 && isAlive(info) ? info : null;
}

/** Removes the lock file if its owner is gone (start-up hygiene; acquiring would take it over anyway). */
export function clearStaleLock(backupDir: string): boolean {
  const info = readLock(backupDir);
  if (!info || (info.pid > 0 && isAlive(info))) return false;
  takeOverStaleLock(lockPath(backupDir), info.token, crypto.randomUUID());
  return !fs.existsSync(lockPath(backupDir));
}

export interface HeldLock {
  info: LockInfo;
  release: () => void;
}

/** Takes the lock or throws OPERATION_IN_PROGRESS naming what is running. */
export function acquireOperationLock(backupDir: string, operation: OperationKind, subject: string): HeldLock {
  fs.mkdirSync(backupDir, { recursive: true });
  const file = lockPath(backupDir);
  const info: LockInfo = {
    pid: process.pid,
    startTime: processStartTime(process.pid),
    operation,
    subject,
    startedAt: new Date().toISOString(),
    token: crypto.randomUUID(),
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createLockFile(file, info)) return { info, release: () => releaseLock(backupDir, info.token) };
    const holder = readLock(backupDir);
    if (holder && holder.pid > 0 && isAlive(holder)) {
      const code = holder.operation === "restore" ? "RESTORE_IN_PROGRESS" : "OPERATION_IN_PROGRESS";
      // "started 2 min ago", not a timestamp: the server cannot know the reader's time zone.
      const age = formatDuration(Math.max(0, Date.now() - Date.parse(holder.startedAt)));
      throw new AppError(code, `${OPERATION_IN_PROGRESS_MESSAGE} (running: ${holder.subject}, started ${age} ago)`, {
        details: { operation: holder.operation, subject: holder.subject, started_at: holder.startedAt },
      });
    }
    if (holder) takeOverStaleLock(file, holder.token, info.token);
  }
  throw new AppError("OPERATION_IN_PROGRESS", OPERATION_IN_PROGRESS_MESSAGE);
}

/**
 * Creates the lock file with its content in one step, or returns false if a lock exists.
 * The JSON is written and fsynced under a private name, then hard-linked to the lock name
 * (link fails with EEXIST, like O_EXCL). A competitor therefore never reads a lock that
 * was just created but not yet written; it would take that for a torn, stale lock and
 * remove a live one. Volumes without hard links fall back to O_EXCL.
 */
function createLockFile(file: string, info: LockInfo): boolean {
  const tmp = `${file}.${info.token}.new`;
  writeNewFile(tmp, JSON.stringify(info));
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  try {
    writeNewFile(file, JSON.stringify(info));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
}

/** Creates `file` (failing with EEXIST if it exists), writes `content` and fsyncs it. */
function writeNewFile(file: string, content: string): void {
  const fd = fs.openSync(file, "wx", 0o600);
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Removes a stale lock without racing another process doing the same: the file is moved
 * aside atomically, and if what was moved is not the stale lock we saw (another process
 * already replaced it with a live one), it is put back.
 */
function takeOverStaleLock(file: string, staleToken: string, ourToken: string): void {
  const aside = `${file}.${ourToken}.stale`;
  try {
    fs.renameSync(file, aside);
  } catch {
    return; // someone else moved it first
  }
  let moved: LockInfo | null = null;
  try {
    moved = JSON.parse(fs.readFileSync(aside, "utf8")) as LockInfo;
  } catch {
    /* torn: stale */
  }
  // A lock that parses is never the torn one we saw: another process replaced it, so it is live.
  if (moved && moved.token !== staleToken) {
    try {
      fs.linkSync(aside, file);
    } catch {
      /* a third lock appeared: it wins */
    }
  }
  fs.rmSync(aside, { force: true });
}

function releaseLock(backupDir: string, token: string): void {
  const file = lockPath(backupDir);
  try {
    const current = JSON.parse(fs.readFileSync(file, "utf8")) as LockInfo;
    if (current.token === token) fs.rmSync(file, { force: true });
  } catch {
    /* gone or unreadable: nothing of ours to release */
  }
}

export const RESTORE_IN_PROGRESS_MESSAGE =
  "A restore is in progress: changes are paused until it finishes. Wait a moment, then try again.";

/** Refuses a change to the app's data while a restore (in any process) is replacing it. */
export function assertNoRestoreRunning(backupDir: string): void {
  if (readLiveLock(backupDir)?.operation === "restore") {
    throw new AppError("RESTORE_IN_PROGRESS", RESTORE_IN_PROGRESS_MESSAGE);
  }
}
