import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { backups } from "@/db/schema";
import { partialPath } from "@/server/backup/catalog";
import { acquireOperationLock, lockPath } from "@/server/backup/lock";
import { INTERRUPTED_MESSAGE, recoverInterruptedBackups } from "@/server/backup/recovery";
import { createBackup, waitForBackup } from "@/server/backup/service";
import { hashTree, writeFiles, writeRandomFile } from "../helpers/files";
import { createTestApp, makeTempDir, type TestApp } from "../helpers/test-app";

const REPO = path.resolve(__dirname, "../..");

function archives(app: TestApp): string[] {
  return fs.readdirSync(app.config.backupPath).filter((n) => n.endsWith(".tar.gz"));
}

async function until(check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("one operation at a time", () => {
  let app: TestApp;
  afterEach(() => app.cleanup());

  it("refuses a backup while another operation holds the lock, writing nothing", async () => {
    app = createTestApp();
    await app.ready; // start-up recovery holds the lock for a moment
    const held = acquireOperationLock(app.config.backupPath, "backup", "a test");
    try {
      await expect(app.caller(app.admin).backup.create({ backup_type: "full" })).rejects.toMatchObject({
        code: "CONFLICT",
        message: expect.stringMatching(/another backup or restore is in progress/i),
      });
    } finally {
      held.release();
    }
    expect(app.db.select().from(backups).all()).toEqual([]);
    expect(archives(app)).toEqual([]);
  });

  it("lets exactly one of two simultaneous backups run", async () => {
    app = createTestApp();
    writeRandomFile(path.join(app.config.storagePath, "big.bin"), 8 * 1024 * 1024);
    const results = await Promise.allSettled([
      app.caller(app.admin).backup.create({ backup_type: "full", wait: true }),
      app.caller(app.admin).backup.create({ backup_type: "full", wait: true }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const rejected = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(rejected.reason).toMatchObject({ code: "CONFLICT" });
    expect(archives(app)).toHaveLength(1);
  });

  it("releases the lock when a backup finishes, so the next one can run", async () => {
    app = createTestApp();
    await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true });
    expect(fs.existsSync(lockPath(app.config.backupPath))).toBe(false);
    await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true });
    expect(archives(app)).toHaveLength(2);
  });
});

describe("preflight", () => {
  let app: TestApp;
  afterEach(() => app.cleanup());

  it("fails at once with a clear error and writes nothing when space is short", async () => {
    app = createTestApp();
    writeFiles(app.config.storagePath, { "a.txt": "x".repeat(10_000) });
    const attempt = createBackup({
      db: app.db,
      config: app.config,
      actor: { id: app.admin.id, username: "admin" },
      input: { backup_type: "full" },
      freeSpace: async () => 1024,
    });
    await expect(attempt).rejects.toMatchObject({ code: "INSUFFICIENT_SPACE", message: expect.stringMatching(/free space/i) });
    expect(app.db.select().from(backups).all()).toEqual([]);
    expect(fs.readdirSync(app.config.backupPath).filter((n) => !n.startsWith(".manifests"))).toEqual([]);
  });
});

describe("a full disk during the write", () => {
  let app: TestApp;
  let mountPoint: string | undefined;
  afterEach(async () => {
    await app?.cleanup();
    if (mountPoint) execFileSync("umount", [mountPoint]);
    mountPoint = undefined;
  });

  it("marks the backup failed with a readable message, leaves no partial file and keeps earlier backups", async (ctx) => {
    const dir = makeTempDir("baluhost-tmpfs-");
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", dir], { stdio: "ignore" });
      mountPoint = dir;
    } catch {
      ctx.skip(); // needs root to mount a small tmpfs; CI runs as root
    }
    app = createTestApp({ NAS_BACKUP_PATH: dir });
    const earlier = await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true });
    writeRandomFile(path.join(app.config.storagePath, "video.bin"), 24 * 1024 * 1024);
    // The preflight would refuse this; pretend it saw room so the write itself hits ENOSPC.
    const row = await createBackup({
      db: app.db,
      config: app.config,
      actor: { id: app.admin.id, username: "admin" },
      input: { backup_type: "full", wait: true },
      freeSpace: async () => 1e12,
    });
    expect(row.status).toBe("failed");
    expect(row.errorMessage).toMatch(/ran out of space/i);
    expect(fs.readdirSync(dir).filter((n) => n.endsWith(".partial") || n.startsWith(".staging"))).toEqual([]);
    expect(fs.existsSync(path.join(dir, earlier.filename))).toBe(true);
  });
});

describe("cancelling", () => {
  let app: TestApp;
  afterEach(() => app.cleanup());

  it("stops a running backup, marks it failed as cancelled and removes its partial file", async () => {
    app = createTestApp();
    for (let i = 0; i < 6; i++) writeRandomFile(path.join(app.config.storagePath, `media/${i}.bin`), 16 * 1024 * 1024);
    const started = await app.caller(app.admin).backup.create({ backup_type: "full" });
    await app.caller(app.admin).backup.cancel({ id: started.id });
    await waitForBackup(started.id);
    const row = await app.caller(app.admin).backup.get({ id: started.id });
    expect(row).toMatchObject({ status: "failed", error_message: "Cancelled by admin." });
    expect(fs.existsSync(partialPath(app.config, started))).toBe(false);
    expect(archives(app)).toEqual([]);
  });

  it("says there is nothing to cancel for a finished backup", async () => {
    app = createTestApp();
    const done = await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true });
    await expect(app.caller(app.admin).backup.cancel({ id: done.id })).rejects.toMatchObject({ code: "CONFLICT" });
  });
});

describe("crash recovery", () => {
  let app: TestApp;
  afterEach(() => app.cleanup());

  it("marks rows left in progress as interrupted and removes their temporary files", async () => {
    app = createTestApp();
    await app.ready;
    const row = app.db
      .insert(backups)
      .values({ filename: "backup_20260101_000000.tar.gz", filepath: "x", backupType: "full", includesDatabase: true, includesFiles: true, includesConfig: false })
      .returning()
      .get();
    fs.writeFileSync(partialPath(app.config, row), "half");
    fs.mkdirSync(path.join(app.config.backupPath, `.staging-${row.id}`));
    expect(await recoverInterruptedBackups(app.db, app.config)).toEqual([row.id]);
    const after = app.db.select().from(backups).where(eq(backups.id, row.id)).get();
    expect(after).toMatchObject({ status: "failed", errorMessage: INTERRUPTED_MESSAGE });
    expect(fs.readdirSync(app.config.backupPath).filter((n) => n !== ".manifests")).toEqual([]);
  });

  it("marks a row in progress that nothing runs as interrupted when the list is read", async () => {
    app = createTestApp();
    await app.ready;
    const row = app.db
      .insert(backups)
      .values({ filename: "backup_20260101_000002.tar.gz", filepath: "x", backupType: "full", includesDatabase: true, includesFiles: true, includesConfig: false })
      .returning()
      .get();
    const listed = await app.caller(app.admin).backup.list();
    expect(listed.backups.find((b) => b.id === row.id)).toMatchObject({ status: "failed", error_message: INTERRUPTED_MESSAGE });
  });

  it("leaves a backup alone while a live process holds the lock", async () => {
    app = createTestApp();
    const row = app.db
      .insert(backups)
      .values({ filename: "backup_20260101_000001.tar.gz", filepath: "x", backupType: "full", includesDatabase: true, includesFiles: true, includesConfig: false })
      .returning()
      .get();
    await app.ready; // start-up recovery holds the lock for a moment
    const held = acquireOperationLock(app.config.backupPath, "backup", "another process");
    try {
      expect(await recoverInterruptedBackups(app.db, app.config)).toEqual([]);
    } finally {
      held.release();
    }
    expect(app.db.select().from(backups).where(eq(backups.id, row.id)).get()?.status).toBe("in_progress");
  });

  it("after a kill -9 mid-backup, the next start marks it interrupted, keeps earlier backups, and backs up again", async () => {
    app = createTestApp();
    const earlier = await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true });
    for (let i = 0; i < 8; i++) writeRandomFile(path.join(app.config.storagePath, `media/${i}.bin`), 24 * 1024 * 1024);
    const storageBefore = hashTree(app.config.storagePath);

    // `node --import tsx` runs the script in this one process (the tsx binary would fork a child that outlives a kill).
    const child = spawn(process.execPath, ["--import", "tsx", "tests/fixtures/run-backup.ts", "full"], {
      cwd: REPO,
      env: { ...process.env, ...app.env },
      stdio: "ignore",
    });
    const partial = () =>
      fs.readdirSync(app.config.backupPath).some((n) => n.endsWith(".partial") && fs.statSync(path.join(app.config.backupPath, n)).size > 1024 * 1024);
    await until(partial);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));

    app = await app.restart();
    await app.ready;
    const rows = app.db.select().from(backups).all();
    expect(rows.find((r) => r.id === earlier.id)?.status).toBe("completed");
    const killed = rows.find((r) => r.id !== earlier.id);
    expect(killed).toMatchObject({ status: "failed", errorMessage: INTERRUPTED_MESSAGE });
    expect(fs.readdirSync(app.config.backupPath).filter((n) => n.endsWith(".partial") || n.startsWith(".staging") || n === ".operation.lock")).toEqual([]);
    expect(hashTree(app.config.storagePath)).toEqual(storageBefore);

    const again = await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true });
    expect(again.status).toBe("completed");
  });
});
