/**
 * Restore drills on real archives made by the real engine, in temp folders: what passes,
 * what fails and how it is recorded, and that live data is never touched.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { auditLog, backupPlans, backups, notificationChannels, notificationDeliveries, restoreDrills } from "@/db/schema";
import { manifestCopyPath } from "@/server/backup/catalog";
import { DRILL_INTERRUPTED_MESSAGE, lastDrill, listDrills, runRestoreDrill, waitForDrill, type RunDrillOptions } from "@/server/backup/drill/drill";
import { importBackup } from "@/server/backup/import";
import { acquireOperationLock, readLiveLock } from "@/server/backup/lock";
import { BACKUP_SYSTEM_TABLES, WORK_DIR } from "@/server/backup/restore/journal";
import { createUser } from "@/server/users";
import { hashTree, writeFiles, writeRandomFile } from "../helpers/files";
import { realInstallation } from "../helpers/real-baluhost";
import { createTestApp, type TestApp } from "../helpers/test-app";

const REPO = path.resolve(__dirname, "../..");
const GiB = 1024 ** 3;

/** A clock that moves one second on every reading, far from the real time: the drill's times must come from it. */
function steppingClock(start = Date.parse("2030-01-01T00:00:00Z")) {
  let t = start;
  return () => new Date((t += 1000));
}

function seed(app: TestApp): void {
  writeFiles(app.config.storagePath, { "a.txt": "original a\n", "dir/b.txt": "original b\n", "photos/ünïcödé.txt": "unicode\n" });
  writeRandomFile(path.join(app.config.storagePath, "photos/big.bin"), 2 * 1024 * 1024);
  fs.mkdirSync(path.join(app.config.storagePath, "empty-dir"));
  fs.symlinkSync("a.txt", path.join(app.config.storagePath, "link-to-a"));
  writeFiles(app.config.configPath, { "nas.json": '{"name":"nas"}' });
  createUser(app.db, { username: "bob", password: "bob-password-1", role: "user" });
}

/**
 * Everything a drill must leave alone: the storage and config trees byte for byte, and every
 * row of the app's own data. (The database file itself changes: the drill records its row and
 * its audit entry there, in tables of the backup system.)
 */
function liveState(app: TestApp) {
  const sqlite = app.db.$client;
  const tables = (sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>)
    .map((t) => t.name)
    .filter((t) => t !== "sqlite_sequence" && !(BACKUP_SYSTEM_TABLES as readonly string[]).includes(t));
  return {
    storage: hashTree(app.config.storagePath),
    links: fs.readlinkSync(path.join(app.config.storagePath, "link-to-a")),
    config: hashTree(app.config.configPath),
    rows: Object.fromEntries(tables.map((t) => [t, sqlite.prepare(`SELECT * FROM "${t}"`).all()])),
  };
}

/** Work folders a drill (or a restore) could leave: none may be there once it has ended. */
function leftovers(app: TestApp): string[] {
  return [app.config.storagePath, app.config.configPath, path.dirname(app.config.databasePath)]
    .map((dir) => path.join(dir, WORK_DIR))
    .filter((dir) => fs.existsSync(dir));
}

function drill(app: TestApp, extra: Partial<RunDrillOptions> = {}) {
  return runRestoreDrill({ db: app.db, config: app.config, actor: { id: app.admin.id, username: "admin" }, freeSpace: async () => 100 * GiB, ...extra });
}

function addChannel(app: TestApp): number {
  return app.db
    .insert(notificationChannels)
    .values({ name: "ops", kind: "webhook", settings: { url: "http://127.0.0.1:9/hook" }, events: ["drill_failed"], updatedAt: new Date() })
    .returning()
    .get().id;
}

const checkNames = (row: { checks: Array<{ name: string; ok: boolean }> | null }) => (row.checks ?? []).map((c) => `${c.name}:${c.ok ? "ok" : "failed"}`);

describe("a restore drill that passes", () => {
  let app: TestApp;
  beforeEach(async () => {
    app = createTestApp();
    await app.ready;
    seed(app);
  });
  afterEach(() => app.cleanup());

  it("restores a full backup into a sandbox and records every check, the time to restore and the counts", async () => {
    const backup = await app.caller(app.admin).backup.create({ backup_type: "full", includes_config: true, wait: true });
    const result = await drill(app, { now: steppingClock() });

    expect(result.status).toBe("passed");
    expect(checkNames(result)).toEqual(["archive:ok", "contents:ok", "database_integrity:ok", "migrations:ok"]);
    expect(result.checks!.find((c) => c.name === "contents")!.detail).toMatch(/every entry, size and SHA-256 matches the manifest/);
    expect(result.startedAt.toISOString()).toMatch(/^2030-01-01/);
    expect(result.durationMs).toBe(result.finishedAt!.getTime() - result.startedAt.getTime());
    expect(result.durationMs).toBeGreaterThan(0);
    // a.txt, dir/b.txt, photos/ünïcödé.txt, photos/big.bin, config/nas.json and the database
    expect(result.fileCount).toBe(6);
    expect(result.bytes).toBeGreaterThan(2 * 1024 * 1024);
    expect({ backupId: result.backupId, backupFilename: result.backupFilename, actorName: result.actorName, errorMessage: result.errorMessage }).toEqual({
      backupId: backup.id,
      backupFilename: backup.filename,
      actorName: "admin",
      errorMessage: null,
    });
    expect(leftovers(app)).toEqual([]);
    const audit = app.db.select().from(auditLog).where(eq(auditLog.action, "backup.drill")).all();
    expect(audit).toEqual([
      expect.objectContaining({
        actorName: "admin",
        success: true,
        resource: `backup:${backup.id}`,
        details: expect.objectContaining({ filename: backup.filename, duration_ms: result.durationMs, file_count: 6, drill_id: result.id }),
      }),
    ]);
    expect(app.db.select().from(backups).where(eq(backups.id, backup.id)).get()!.verifyStatus).toBeNull();
  });

  it("restores an incremental with its whole chain, deletions included", async () => {
    await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    fs.writeFileSync(path.join(app.config.storagePath, "a.txt"), "second version of a\n");
    fs.rmSync(path.join(app.config.storagePath, "dir/b.txt"));
    writeFiles(app.config.storagePath, { "added/one.txt": "one\n" });
    await app.caller(app.admin).backup.create({ backup_type: "incremental", wait: true });
    writeFiles(app.config.storagePath, { "added/two.txt": "two\n" });
    const second = await app.caller(app.admin).backup.create({ backup_type: "incremental", wait: true });
    expect(second.backup_type).toBe("incremental");

    const result = await drill(app);
    expect(result).toMatchObject({ status: "passed", backupId: second.id });
    expect(result.checks!.find((c) => c.name === "archive")!.detail).toMatch(/^3 archives read to the end \(the chain of /);
    // a.txt, photos ×2, added ×2 and the database: dir/b.txt was deleted before the first incremental
    expect(result.fileCount).toBe(6);
    expect(leftovers(app)).toEqual([]);
  });

  it.each([
    ["database_only", ["archive:ok", "contents:ok", "database_integrity:ok", "migrations:ok"], 1],
    ["files_only", ["archive:ok", "contents:ok"], 4],
  ] as const)("passes for a %s backup, with the checks that apply to it", async (type, checks, files) => {
    await app.caller(app.admin).backup.create({ backup_type: type, wait: true });
    const result = await drill(app);
    expect(result.status).toBe("passed");
    expect(checkNames(result)).toEqual(checks);
    expect(result.fileCount).toBe(files);
  });

  it("leaves the live storage, config and data rows exactly as they were", async () => {
    await app.caller(app.admin).backup.create({ backup_type: "full", includes_config: true, wait: true });
    const before = liveState(app);
    expect((await drill(app)).status).toBe("passed");
    expect(liveState(app)).toEqual(before);
  });

  it("drills the newest completed backup that is not damaged when no backup is named", async () => {
    const older = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    const newer = await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true });
    app.db.update(backups).set({ verifyStatus: "failed", verifyError: "damaged" }).where(eq(backups.id, newer.id)).run();
    expect((await drill(app)).backupId).toBe(older.id);
  });

  it("drills the newest backup of the plan it is asked for", async () => {
    const plan = app.db
      .insert(backupPlans)
      .values({ name: "nightly", backupType: "database_only", cron: "0 3 * * *", timezone: "UTC", updatedAt: new Date() })
      .returning()
      .get();
    const ofPlan = await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true });
    app.db.update(backups).set({ planId: plan.id, planName: plan.name }).where(eq(backups.id, ofPlan.id)).run();
    await app.caller(app.admin).backup.create({ backup_type: "full", wait: true }); // newer, but not the plan's
    const result = await drill(app, { planId: plan.id });
    expect({ backupId: result.backupId, planId: result.planId, status: result.status }).toEqual({ backupId: ofPlan.id, planId: plan.id, status: "passed" });
  });

  it("answers with the running row at once when asked not to wait, and finishes in the background", async () => {
    await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    const started = await drill(app, { wait: false });
    expect(started.status).toBe("running");
    expect(readLiveLock(app.config.backupPath)?.subject).toMatch(/^restore drill of backup_/);
    await waitForDrill(started.id);
    expect(lastDrill(app.db, { config: app.config })).toMatchObject({ id: started.id, status: "passed" });
    expect(readLiveLock(app.config.backupPath)).toBeNull();
  });

  it("passes for an archive of the original BaluHost and says what it could not compare", async () => {
    const real = realInstallation();
    try {
      const imported = await importBackup({
        db: app.db,
        config: app.config,
        actor: { id: app.admin.id, username: "admin" },
        source: { path: real.backup("full", { config: true }) },
        origin: "imported",
        originalName: "real.tar.gz",
      });
      expect(imported.fileList).toBe(false);
      const result = await drill(app, { backupId: imported.id });
      expect(result.status).toBe("passed");
      const detail = (name: string) => result.checks!.find((c) => c.name === name)?.detail;
      expect(detail("archive")).toMatch(/no manifest, so it holds no per-file hashes/);
      expect(detail("contents")).toMatch(/match the count recorded at import.*could not be compared with checksums/);
      expect(detail("database_integrity")).toMatch(/belongs to another application/);
      expect(leftovers(app)).toEqual([]);
    } finally {
      real.remove();
    }
  });
});

describe("a restore drill that fails", () => {
  let app: TestApp;
  beforeEach(async () => {
    app = createTestApp();
    await app.ready;
    seed(app);
  });
  afterEach(() => app.cleanup());

  const damage = {
    "bytes flipped in the middle": (file: string) => {
      const fd = fs.openSync(file, "r+");
      const at = Math.floor(fs.statSync(file).size / 2);
      const bytes = Buffer.alloc(64);
      fs.readSync(fd, bytes, 0, 64, at);
      for (let i = 0; i < bytes.length; i++) bytes[i] ^= 0xff;
      fs.writeSync(fd, bytes, 0, 64, at);
      fs.closeSync(fd);
    },
    "truncated": (file: string) => fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2)),
  };

  it.each(Object.keys(damage))("with an archive %s: recorded, announced, marked damaged, sandbox gone", async (how) => {
    const channel = addChannel(app);
    const backup = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    damage[how as keyof typeof damage](path.join(app.config.backupPath, backup.filename));
    const before = liveState(app);

    const result = await drill(app);
    expect(result.status).toBe("failed");
    expect(checkNames(result)).toEqual(["archive:failed"]);
    expect(result.errorMessage).toMatch(new RegExp(`^Archive readable, hashes match: The archive ${backup.filename} cannot be used`));
    expect(result.durationMs).not.toBeNull();
    const row = app.db.select().from(backups).where(eq(backups.id, backup.id)).get()!;
    expect(row.verifyStatus).toBe("failed");
    expect(row.verifyError).toMatch(/^Restore drill: /);
    const outbox = app.db.select().from(notificationDeliveries).all();
    expect(outbox).toEqual([expect.objectContaining({ channelId: channel, event: "drill_failed", status: "pending" })]);
    expect(outbox[0]!.payload).toMatchObject({
      backupId: backup.id,
      message: expect.stringContaining(`The restore drill of ${backup.filename} failed the check "Archive readable, hashes match"`),
      action: expect.stringMatching(/make a new full backup now and check the disk/),
    });
    expect(app.db.select().from(auditLog).where(eq(auditLog.action, "backup.drill")).all()).toEqual([
      expect.objectContaining({ success: false, details: expect.objectContaining({ failed_check: "archive", marked_damaged: true }) }),
    ]);
    expect(leftovers(app)).toEqual([]);
    expect(liveState(app)).toEqual(before);
    expect(readLiveLock(app.config.backupPath)).toBeNull();
  });

  it("when a restored file's SHA-256 differs from the catalog's manifest, in the independent check", async () => {
    const backup = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    // The archive is intact (the extractor passes it), but the manifest the catalog keeps for it,
    // the one incrementals build on, lists other content for a.txt.
    const copy = manifestCopyPath(app.config, backup.filename);
    const lines = fs.readFileSync(copy, "utf8").split("\n");
    const at = lines.findIndex((l) => l.includes('"path":"files/a.txt"'));
    lines[at] = lines[at]!.replace(/"sha256":"[0-9a-f]{64}"/, `"sha256":"${"0".repeat(64)}"`);
    fs.writeFileSync(copy, lines.join("\n"));

    const result = await drill(app);
    expect(result.status).toBe("failed");
    expect(checkNames(result)).toEqual(["archive:ok", "contents:failed"]);
    expect(result.errorMessage).toMatch(/files\/a\.txt: its content differs from the manifest/);
    expect(app.db.select().from(backups).where(eq(backups.id, backup.id)).get()!.verifyStatus).toBe("failed");
    expect(leftovers(app)).toEqual([]);
  });

  it("when a file the catalog's manifest lists was not restored", async () => {
    const backup = await app.caller(app.admin).backup.create({ backup_type: "files_only", wait: true });
    const copy = manifestCopyPath(app.config, backup.filename);
    const lines = fs.readFileSync(copy, "utf8").split("\n");
    const at = lines.findIndex((l) => l.includes('"path":"files/dir/b.txt"'));
    lines.splice(at + 1, 0, lines[at]!.replace("files/dir/b.txt", "files/dir/c.txt").replace(/^(?!,)/, ","));
    fs.writeFileSync(copy, lines.join("\n"));

    const result = await drill(app);
    expect(checkNames(result)).toEqual(["archive:ok", "contents:failed"]);
    expect(result.errorMessage).toMatch(/files\/dir\/c\.txt: listed in the manifest but not restored/);
  });

  it("when an incremental's parent archive is missing, naming it", async () => {
    const full = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    writeFiles(app.config.storagePath, { "later.txt": "later\n" });
    const inc = await app.caller(app.admin).backup.create({ backup_type: "incremental", wait: true });
    fs.rmSync(path.join(app.config.backupPath, full.filename));
    const result = await drill(app, { backupId: inc.id });
    expect(result.status).toBe("failed");
    expect(result.errorMessage).toContain(`needs ${full.filename}, whose archive is missing`);
    expect(app.db.select().from(backups).where(eq(backups.id, inc.id)).get()!.verifyStatus).toBe("failed");
  });

  it("announces nothing when no channel wants drill failures, and still records the failure", async () => {
    const backup = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    fs.truncateSync(path.join(app.config.backupPath, backup.filename), 100);
    expect((await drill(app)).status).toBe("failed");
    expect(app.db.select().from(notificationDeliveries).all()).toEqual([]);
    expect(listDrills(app.db)).toHaveLength(1);
  });
});

describe("a restore drill that is refused", () => {
  let app: TestApp;
  beforeEach(async () => {
    app = createTestApp();
    await app.ready;
    seed(app);
  });
  afterEach(() => app.cleanup());

  it("while another operation holds the lock: 409, nothing written", async () => {
    await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    const before = liveState(app);
    const held = acquireOperationLock(app.config.backupPath, "backup", "a running backup");
    try {
      await expect(drill(app)).rejects.toMatchObject({
        code: "OPERATION_IN_PROGRESS",
        httpStatus: 409,
        message: expect.stringMatching(/^Another backup or restore is in progress\. .*running: a running backup/),
      });
    } finally {
      held.release();
    }
    expect(app.db.select().from(restoreDrills).all()).toEqual([]);
    expect(leftovers(app)).toEqual([]);
    expect(liveState(app)).toEqual(before);
  });

  it("without room for the sandbox copy: refused before anything is written", async () => {
    await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    const asked: string[] = [];
    const attempt = drill(app, {
      freeSpace: async (dir) => {
        asked.push(dir);
        return 1024 * 1024;
      },
    });
    await expect(attempt).rejects.toMatchObject({ code: "INSUFFICIENT_SPACE", message: expect.stringMatching(/Not enough free space for a restore drill of backup_\S+ on the volume of .*nothing was written/) });
    expect(asked).toEqual([app.config.storagePath]);
    expect(app.db.select().from(restoreDrills).all()).toEqual([]);
    expect(leftovers(app)).toEqual([]);
    expect(readLiveLock(app.config.backupPath)).toBeNull();
  });

  it("with no backup to drill yet, saying what to do", async () => {
    await expect(drill(app)).rejects.toMatchObject({ code: "BACKUP_NOT_FOUND", message: expect.stringMatching(/no completed, undamaged backup to drill yet\. Create a backup first/) });
  });

  it("for a plan that has made no backup yet, naming the plan", async () => {
    const plan = app.db
      .insert(backupPlans)
      .values({ name: "weekly offsite", backupType: "full", cron: "0 4 * * 0", timezone: "UTC", updatedAt: new Date() })
      .returning()
      .get();
    await app.caller(app.admin).backup.create({ backup_type: "full", wait: true }); // not the plan's
    await expect(drill(app, { planId: plan.id })).rejects.toMatchObject({
      code: "BACKUP_NOT_FOUND",
      message: expect.stringContaining('The plan "weekly offsite" has no completed, undamaged backup yet'),
    });
    expect(app.db.select().from(restoreDrills).all()).toEqual([]);
  });
});

describe("a restore drill killed mid-way", () => {
  it.each(["drill:staged", "drill:checked"])("at %s leaves nothing behind after the next start", async (point) => {
    let app = createTestApp();
    try {
      seed(app);
      const backup = await app.caller(app.admin).backup.create({ backup_type: "full", includes_config: true, wait: true });
      const before = liveState(app);
      app = await app.restart();
      await app.ready; // spawnSync blocks this process: its start-up recovery must be over first

      const child = spawnSync(process.execPath, ["--import", "tsx", "tests/fixtures/run-drill.ts", String(backup.id)], {
        cwd: REPO,
        env: { ...process.env, ...app.env, BALUHOST_CRASH_AT: point },
        encoding: "utf8",
      });
      expect(child.signal).toBe("SIGKILL");
      // It died with its sandbox full and its row running.
      const sandbox = path.join(app.config.storagePath, WORK_DIR);
      expect(fs.readdirSync(sandbox).filter((n) => n.startsWith("drill-"))).toHaveLength(1);
      expect(hashTree(sandbox)).not.toEqual({});

      app = await app.restart();
      await app.ready;
      expect(leftovers(app)).toEqual([]);
      expect(readLiveLock(app.config.backupPath)).toBeNull();
      expect(lastDrill(app.db, { config: app.config })).toMatchObject({ status: "failed", errorMessage: DRILL_INTERRUPTED_MESSAGE });
      expect(liveState(app)).toEqual(before);
      // And the next drill runs as usual.
      expect((await drill(app)).status).toBe("passed");
    } finally {
      await app.cleanup();
    }
  });

  it("leaves nothing a restore takes for its own: a restore right after (no restart) succeeds and removes the sandbox", async () => {
    const app = createTestApp();
    try {
      await app.ready;
      seed(app);
      const backup = await app.caller(app.admin).backup.create({ backup_type: "full", includes_config: true, wait: true });
      const before = liveState(app);
      const child = spawnSync(process.execPath, ["--import", "tsx", "tests/fixtures/run-drill.ts", String(backup.id)], {
        cwd: REPO,
        env: { ...process.env, ...app.env, BALUHOST_CRASH_AT: "drill:staged" },
        encoding: "utf8",
      });
      expect(child.signal).toBe("SIGKILL");
      expect(leftovers(app)).toEqual([path.join(app.config.storagePath, WORK_DIR)]);
      fs.writeFileSync(path.join(app.config.storagePath, "a.txt"), "changed after the backup\n");

      await app.caller(app.admin).backup.restore({ backup_id: backup.id, restore_config: true, confirm: true });
      expect(liveState(app).storage).toEqual(before.storage);
      expect(liveState(app).config).toEqual(before.config);
      expect(leftovers(app)).toEqual([]);
    } finally {
      await app.cleanup();
    }
  });
});
