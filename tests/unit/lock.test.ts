import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireOperationLock, lockPath, readLiveLock, type HeldLock, type LockInfo, type OperationKind } from "@/server/backup/lock";
import { AppError } from "@/server/errors";

const LOCK_MODULE = path.resolve(__dirname, "../../server/backup/lock.ts");

/** Field 22 of /proc/<pid>/stat: the kernel start time the lock records. */
function startTimeOf(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]!;
}

function writeLock(dir: string, info: Partial<LockInfo>): void {
  const full: LockInfo = {
    pid: process.pid,
    startTime: startTimeOf(process.pid),
    operation: "backup",
    subject: "full backup by someone",
    startedAt: new Date().toISOString(),
    token: "planted-token",
    ...info,
  };
  fs.writeFileSync(lockPath(dir), JSON.stringify(full));
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

function catchError(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error("expected an AppError, nothing was thrown");
}

/**
 * A separate node process running the real lock module. It waits until `startAt` (so
 * several children can race), tries to take the lock, prints "won" or "lost <code>", and
 * holds a won lock until killed.
 */
function spawnLockChild(dir: string, options: { startAt?: number; operation?: "backup" | "restore" } = {}) {
  const script = `
    const { acquireOperationLock } = require(${JSON.stringify(LOCK_MODULE)});
    const startAt = ${options.startAt ?? 0};
    while (Date.now() < startAt) {}
    try {
      acquireOperationLock(${JSON.stringify(dir)}, ${JSON.stringify(options.operation ?? "backup")}, "child " + process.pid);
      process.stdout.write("won\\n");
      setInterval(() => {}, 1000);
    } catch (err) {
      process.stdout.write("lost " + (err && err.code) + "\\n");
      process.exit(0);
    }
  `;
  // node itself (not the tsx wrapper, which forks): the child's pid is the lock owner's pid.
  const child = spawn(process.execPath, ["--import", "tsx", "-e", script], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const outcome = new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
      if (out.includes("\n")) resolve(out.trim());
    });
    child.once("exit", (code) => reject(new Error(`lock child exited (${code}) before answering: ${stderr}`)));
  });
  return { child, outcome };
}

describe("operation lock", () => {
  let dir: string;
  const held: HeldLock[] = [];
  const children: ChildProcess[] = [];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "baluhost-lock-"));
  });

  afterEach(async () => {
    for (const lock of held.splice(0)) lock.release();
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited(child);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function take(operation: OperationKind = "backup", subject = "test backup"): HeldLock {
    const lock = acquireOperationLock(dir, operation, subject);
    held.push(lock);
    return lock;
  }

  it("creates a lock file naming this process when acquired", () => {
    const lock = take("backup", "full backup by admin");
    const onDisk = JSON.parse(fs.readFileSync(lockPath(dir), "utf8")) as LockInfo;
    expect(onDisk).toMatchObject({ pid: process.pid, operation: "backup", subject: "full backup by admin", token: lock.info.token });
    expect(onDisk.startTime).toBe(startTimeOf(process.pid));
  });

  it("creates the backup folder if it does not exist yet", () => {
    const missing = path.join(dir, "not", "yet");
    held.push(acquireOperationLock(missing, "backup", "test backup"));
    expect(fs.existsSync(lockPath(missing))).toBe(true);
  });

  it("refuses a second acquire in the same process with OPERATION_IN_PROGRESS", () => {
    take("backup", "full backup by admin");
    const err = catchError(() => take("backup", "another"));
    expect(err.code).toBe("OPERATION_IN_PROGRESS");
    expect(err.message).toMatch(/another backup or restore is in progress/i);
    expect(err.message).toContain("full backup by admin");
  });

  it("refuses with RESTORE_IN_PROGRESS while a restore holds the lock", () => {
    take("restore", "restore of backup 3");
    const err = catchError(() => take("backup"));
    expect(err.code).toBe("RESTORE_IN_PROGRESS");
    expect(err.httpStatus).toBe(409);
  });

  it("can be taken again after it was released", () => {
    take().release();
    expect(fs.existsSync(lockPath(dir))).toBe(false);
    expect(() => take()).not.toThrow();
  });

  it("release removes only its own lock, not one that replaced it", () => {
    const first = take();
    fs.rmSync(lockPath(dir));
    writeLock(dir, { token: "someone-else" });
    first.release();
    expect(JSON.parse(fs.readFileSync(lockPath(dir), "utf8")).token).toBe("someone-else");
  });

  it("releasing twice does not remove a lock taken in between", () => {
    const first = take();
    first.release();
    const second = take();
    first.release();
    expect(JSON.parse(fs.readFileSync(lockPath(dir), "utf8")).token).toBe(second.info.token);
  });

  it("takes over a lock left by a process that has exited", async () => {
    const child = spawn(process.execPath, ["-e", "process.exit(0)"]);
    await exited(child);
    writeLock(dir, { pid: child.pid!, startTime: "1", token: "dead-owner" });
    expect(readLiveLock(dir)).toBeNull();
    const lock = take();
    expect(JSON.parse(fs.readFileSync(lockPath(dir), "utf8")).token).toBe(lock.info.token);
  });

  it("takes over a lock whose pid was recycled (same pid, other start time)", () => {
    writeLock(dir, { pid: process.pid, startTime: "1", token: "recycled" });
    expect(readLiveLock(dir)).toBeNull();
    const lock = take();
    expect(JSON.parse(fs.readFileSync(lockPath(dir), "utf8")).token).toBe(lock.info.token);
  });

  it("takes over a torn lock file that is not JSON", () => {
    fs.writeFileSync(lockPath(dir), '{"pid": 12');
    const lock = take();
    expect(JSON.parse(fs.readFileSync(lockPath(dir), "utf8")).token).toBe(lock.info.token);
  });

  it("takes over an empty lock file", () => {
    fs.writeFileSync(lockPath(dir), "");
    expect(() => take()).not.toThrow();
  });

  it("leaves no stray files behind in the backup folder after a takeover", () => {
    writeLock(dir, { pid: process.pid, startTime: "1", token: "recycled" });
    take().release();
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("reports a live lock held by another process as live", async () => {
    const { child, outcome } = spawnLockChild(dir);
    children.push(child);
    expect(await outcome).toBe("won");
    expect(readLiveLock(dir)).toMatchObject({ pid: child.pid, operation: "backup" });
  });

  it("refuses while another live process holds the lock", async () => {
    const { child, outcome } = spawnLockChild(dir);
    children.push(child);
    expect(await outcome).toBe("won");
    const err = catchError(() => take());
    expect(err.code).toBe("OPERATION_IN_PROGRESS");
    expect(err.message).toContain(`child ${child.pid}`);
  });

  it("refuses another process while this one holds the lock", async () => {
    take();
    const { child, outcome } = spawnLockChild(dir);
    children.push(child);
    expect(await outcome).toBe("lost OPERATION_IN_PROGRESS");
  });

  it("tells another process that a restore is running", async () => {
    take("restore", "restore of backup 1");
    const { child, outcome } = spawnLockChild(dir);
    children.push(child);
    expect(await outcome).toBe("lost RESTORE_IN_PROGRESS");
  });

  it("leaves no stale lock after its holder is killed with SIGKILL", async () => {
    const { child, outcome } = spawnLockChild(dir);
    children.push(child);
    expect(await outcome).toBe("won");
    expect(() => take()).toThrow(AppError);
    child.kill("SIGKILL");
    await exited(child);
    expect(readLiveLock(dir)).toBeNull();
    const lock = take();
    expect(JSON.parse(fs.readFileSync(lockPath(dir), "utf8")).token).toBe(lock.info.token);
  });

  it("takes over a lock whose owner exited but was never reaped (a zombie)", async () => {
    // sh starts the owner, then execs into sleep, which never waits for it: when the owner
    // exits it stays a zombie, as orphans do under a container init that does not reap.
    const parent = spawn("sh", ["-c", `"${process.execPath}" -e "setTimeout(() => {}, 200)" & echo $!; exec sleep 60`], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    children.push(parent);
    const ownerPid = await new Promise<number>((resolve) => parent.stdout!.once("data", (d) => resolve(Number(String(d).trim()))));
    const startTime = startTimeOf(ownerPid);
    const state = () => fs.readFileSync(`/proc/${ownerPid}/stat`, "utf8").split(") ")[1]!.split(" ")[0];
    const deadline = Date.now() + 10_000;
    while (state() !== "Z") {
      if (Date.now() > deadline) throw new Error("the owner did not become a zombie");
      await new Promise((r) => setTimeout(r, 20));
    }
    writeLock(dir, { pid: ownerPid, startTime, token: "zombie-owner" });
    expect(readLiveLock(dir)).toBeNull();
    const lock = take();
    expect(JSON.parse(fs.readFileSync(lockPath(dir), "utf8")).token).toBe(lock.info.token);
  });

  it("lets exactly one of several processes racing for a stale lock win", async () => {
    writeLock(dir, { pid: process.pid, startTime: "1", token: "stale" });
    const startAt = Date.now() + 1500;
    const racers = Array.from({ length: 6 }, () => spawnLockChild(dir, { startAt }));
    children.push(...racers.map((r) => r.child));
    const outcomes = await Promise.all(racers.map((r) => r.outcome));
    expect(outcomes.filter((o) => o === "won")).toHaveLength(1);
    expect(outcomes.filter((o) => o !== "won").every((o) => o === "lost OPERATION_IN_PROGRESS")).toBe(true);
  });

  it("never lets two processes hold the lock at the same time when they race repeatedly", async () => {
    // Each child races for the lock at the same instants, holds a won lock for half a
    // round and records when it held it; no two holding intervals may overlap.
    const script = `
      const { acquireOperationLock } = require(${JSON.stringify(LOCK_MODULE)});
      const [dir, t0, rounds, period] = process.argv.slice(-4).map((v, i) => (i ? Number(v) : v));
      const now = () => performance.timeOrigin + performance.now();
      const held = [];
      for (let i = 0; i < rounds; i++) {
        const start = t0 + i * period;
        while (Date.now() < start) {}
        try {
          const lock = acquireOperationLock(dir, "backup", "round " + i);
          const from = now();
          while (Date.now() < start + period / 2) {}
          held.push([from, now()]);
          lock.release();
        } catch (err) {
          if (err.code !== "OPERATION_IN_PROGRESS") throw err;
        }
      }
      process.stdout.write(JSON.stringify(held));
    `;
    const t0 = Date.now() + 1500;
    const runs = Array.from({ length: 4 }, () => {
      const child = spawn(process.execPath, ["--import", "tsx", "-e", script, dir, String(t0), "40", "40"], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      children.push(child);
      let out = "";
      child.stdout!.on("data", (d) => (out += d));
      return exited(child).then((code) => {
        expect(code).toBe(0);
        return JSON.parse(out) as Array<[number, number]>;
      });
    });
    const intervals = (await Promise.all(runs)).flat().sort((a, b) => a[0] - b[0]);
    expect(intervals.length).toBeGreaterThanOrEqual(40);
    const overlaps = intervals.filter((iv, i) => i > 0 && iv[0] < intervals[i - 1]![1]);
    expect(overlaps).toEqual([]);
  });
});
