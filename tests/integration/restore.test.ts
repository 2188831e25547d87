import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { auditLog, backups, users } from "@/db/schema";
import { recordAudit } from "@/server/audit";
import { acquireOperationLock } from "@/server/backup/lock";
import { journalPath, WORK_DIR } from "@/server/backup/restore/journal";
import { restoreBackup } from "@/server/backup/restore/restore";
import { createUser } from "@/server/users";
import { importBackup } from "@/server/backup/import";
import { hashTree, writeFiles, writeRandomFile } from "../helpers/files";
import { realInstallation, storageAsArchived } from "../helpers/real-baluhost";
import { createTestApp, type TestApp } from "../helpers/test-app";

const REPO = path.resolve(__dirname, "../..");

/** The state a restore must bring back: files, config and the user names. */
function snapshotState(app: TestApp) {
  return {
    files: hashTree(app.config.storagePath),
    config: hashTree(app.config.configPath),
    users: app.db.select({ username: users.username }).from(users).orderBy(users.username).all().map((u) => u.username),
    link: fs.readlinkSync(path.join(app.config.storagePath, "link-to-a")),
    emptyDir: fs.existsSync(path.join(app.config.storagePath, "empty-dir")),
  };
}

function seed(app: TestApp): void {
  writeFiles(app.config.storagePath, {
    "a.txt": "original a\n",
    "dir/b.txt": "original b\n",
    "photos/ünïcödé name.txt": "unicode\n",
  });
  writeRandomFile(path.join(app.config.storagePath, "photos/big.bin"), 2 * 1024 * 1024);
  fs.mkdirSync(path.join(app.config.storagePath, "empty-dir"));
  fs.symlinkSync("a.txt", path.join(app.config.storagePath, "link-to-a"));
  writeFiles(app.config.configPath, { "nas.json": '{"name":"before"}' });
  createUser(app.db, { username: "bob", password: "bob-password-1", role: "user" });
}

/** Changes everything a restore must undo: edits, deletions, additions, rows and config. */
function mutate(app: TestApp): void {
  fs.writeFileSync(path.join(app.config.storagePath, "a.txt"), "changed a\n");
  fs.rmSync(path.join(app.config.storagePath, "dir"), { recursive: true });
  fs.rmSync(path.join(app.config.storagePath, "empty-dir"), { recursive: true });
  writeFiles(app.config.storagePath, { "new.txt": "added later\n" });
  writeFiles(app.config.configPath, { "nas.json": '{"name":"after"}' });
  app.db.delete(users).where(eq(users.username, "bob")).run();
  createUser(app.db, { username: "carol", password: "carol-password-1", role: "user" });
}

function leftovers(app: TestApp): string[] {
  const found: string[] = [];
  for (const dir of [app.config.storagePath, app.config.configPath, path.dirname(app.config.databasePath)]) {
    if (fs.existsSync(path.join(dir, WORK_DIR))) found.push(path.join(dir, WORK_DIR));
  }
  if (fs.existsSync(journalPath(app.config))) found.push(journalPath(app.config));
  return found;
}

describe("restoring a backup", () => {
  let app: TestApp;
  beforeEach(() => {
    app = createTestApp();
    seed(app);
  });
  afterEach(() => app.cleanup());

  it("brings back files byte for byte, the database rows and the config", async () => {
    const before = snapshotState(app);
    const backup = await app.caller(app.admin).backup.create({ backup_type: "full", includes_config: true, wait: true });
    mutate(app);
    expect(snapshotState(app)).not.toEqual(before);

    const outcome = await app.caller(app.admin).backup.restore({ backup_id: backup.id, restore_config: true, confirm: true });
    expect(outcome).toMatchObject({ success: true, backup_id: backup.id, message: expect.stringMatching(/restored/i) });
    expect(snapshotState(app)).toEqual(before);
    expect(leftovers(app)).toEqual([]);
  });

  it("does nothing without confirm: true", async () => {
    const backup = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    mutate(app);
    const changed = snapshotState(app);
    await expect(app.caller(app.admin).backup.restore({ backup_id: backup.id })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(app.caller(app.admin).backup.restore({ backup_id: backup.id, confirm: false })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    expect(snapshotState(app)).toEqual(changed);
  });

  it("takes a safety backup first, marked as such, so the restore can be undone", async () => {
    const backup = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    mutate(app);
    const changed = snapshotState(app);
    const outcome = await app.caller(app.admin).backup.restore({ backup_id: backup.id, confirm: true });
    const safety = await app.caller(app.admin).backup.get({ id: outcome.safety_backup_id });
    expect(safety).toMatchObject({ origin: "safety", status: "completed", backup_type: "full" });
    // Undo: restoring the safety backup gives back the state before the restore.
    await app.caller(app.admin).backup.restore({ backup_id: safety.id, confirm: true });
    expect(snapshotState(app)).toEqual(changed);
  });

  it("keeps the retention settings saved after the backup", async () => {
    const backup = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    await app.caller(app.admin).backup.updateRetention({ max_count: 42, retention_days: 99 });
    await app.caller(app.admin).backup.restore({ backup_id: backup.id, confirm: true });
    expect((await app.caller(app.admin).backup.overview()).retention).toMatchObject({ max_count: 42, retention_days: 99 });
  });

  it("keeps every archive in the list and every later audit entry", async () => {
    const backup = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    mutate(app);
    recordAudit(app.db, { action: "test.after_backup", actor: { id: null, username: "tester" }, success: true });
    const newer = await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true });

    const outcome = await app.caller(app.admin).backup.restore({ backup_id: backup.id, confirm: true });
    const ids = (await app.caller(app.admin).backup.list()).backups.map((b) => b.id).sort();
    expect(ids).toEqual([backup.id, newer.id, outcome.safety_backup_id].sort());
    const list = await app.caller(app.admin).backup.list();
    expect(list.backups.every((b) => b.status === "completed")).toBe(true);
    const actions = app.db.select().from(auditLog).all().map((e) => e.action);
    expect(actions).toContain("test.after_backup");
    const restoreEntry = app.db.select().from(auditLog).where(eq(auditLog.action, "backup.restore")).all();
    expect(restoreEntry).toEqual([expect.objectContaining({ actorName: "admin", success: true })]);
  });

  it("refuses to restore while a backup runs, and two restores at once", async () => {
    const backup = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    await app.ready; // start-up recovery holds the lock for a moment
    const held = acquireOperationLock(app.config.backupPath, "backup", "a running backup");
    try {
      await expect(app.caller(app.admin).backup.restore({ backup_id: backup.id, confirm: true })).rejects.toMatchObject({ code: "CONFLICT" });
    } finally {
      held.release();
    }
    const results = await Promise.allSettled([
      app.caller(app.admin).backup.restore({ backup_id: backup.id, confirm: true }),
      app.caller(app.admin).backup.restore({ backup_id: backup.id, confirm: true }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect((results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason).toMatchObject({ code: "CONFLICT" });
  });

  it("pauses other changes while a restore runs", async () => {
    await app.ready;
    const held = acquireOperationLock(app.config.backupPath, "restore", "a restore");
    try {
      await expect(app.caller(app.admin).tokens.create({ name: "x" })).rejects.toMatchObject({
        code: "CONFLICT",
        message: expect.stringMatching(/restore is in progress/i),
      });
      expect(await app.caller(app.admin).backup.list()).toBeDefined(); // reads still work
    } finally {
      held.release();
    }
  });

  it("refuses to start without room for staging and the safety backup, changing nothing", async () => {
    const backup = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    mutate(app);
    const changed = snapshotState(app);
    const attempt = restoreBackup({
      db: app.db,
      config: app.config,
      actor: { id: app.admin.id, username: "admin" },
      backupId: backup.id,
      parts: { database: true, files: true, config: false },
      confirm: true,
      freeSpace: async () => 1024 * 1024,
    });
    await expect(attempt).rejects.toMatchObject({ code: "INSUFFICIENT_SPACE", message: expect.stringMatching(/free space/i) });
    expect(snapshotState(app)).toEqual(changed);
    expect(leftovers(app)).toEqual([]);
    expect((await app.caller(app.admin).backup.list()).backups).toHaveLength(1);
  });

  it("restores a file of nothing but zeros, which compresses close to deflate's limit", async () => {
    const image = path.join(app.config.storagePath, "vm/disk.img");
    fs.mkdirSync(path.dirname(image), { recursive: true });
    fs.writeFileSync(image, Buffer.alloc(96 * 1024 * 1024));
    const backup = await app.caller(app.admin).backup.create({ backup_type: "files_only", wait: true });
    expect(backup.size_bytes).toBeLessThan(3 * 1024 * 1024); // the zeros shrink ~1000:1 beside 2 MiB of random seed data
    fs.rmSync(image);
    await app.caller(app.admin).backup.restore({ backup_id: backup.id, restore_database: false, confirm: true });
    expect(fs.statSync(image).size).toBe(96 * 1024 * 1024);
  });

  it.for([
    ["at the top", "usb-disk"],
    ["deeper down", "media/usb-disk"],
  ] as const)("refuses before committing when a volume is mounted inside the storage folder (%s)", async ([, rel], ctx) => {
    const backup = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    const mountPoint = path.join(app.config.storagePath, rel);
    fs.mkdirSync(mountPoint, { recursive: true });
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint], { stdio: "ignore" });
    } catch {
      ctx.skip(); // needs root to mount; CI runs as root
    }
    try {
      const before = snapshotState(app);
      await expect(app.caller(app.admin).backup.restore({ backup_id: backup.id, confirm: true })).rejects.toMatchObject({
        code: "CONFLICT",
        message: expect.stringContaining("separate volume mounted"),
      });
      expect(snapshotState(app)).toEqual(before);
      expect(leftovers(app)).toEqual([]);
    } finally {
      execFileSync("umount", [mountPoint]);
    }
  });

  it("refuses parts the backup does not hold", async () => {
    const dbOnly = await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true });
    await expect(
      app.caller(app.admin).backup.restore({ backup_id: dbOnly.id, restore_files: true, confirm: true }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("does not contain files") });
  });

  it("restores only the database when asked, leaving files alone", async () => {
    const backup = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    mutate(app);
    const filesNow = hashTree(app.config.storagePath);
    await app.caller(app.admin).backup.restore({ backup_id: backup.id, restore_files: false, confirm: true });
    expect(hashTree(app.config.storagePath)).toEqual(filesNow);
    expect(app.db.select().from(users).all().map((u) => u.username).sort()).toEqual(["admin", "alice", "bob"]);
  });
});

describe("restoring an incremental backup", () => {
  let app: TestApp;
  beforeEach(() => {
    app = createTestApp();
    seed(app);
  });
  afterEach(() => app.cleanup());

  it("rebuilds the state at its time from the whole chain, deletions included", async () => {
    await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    fs.writeFileSync(path.join(app.config.storagePath, "a.txt"), "second version of a\n");
    fs.rmSync(path.join(app.config.storagePath, "dir/b.txt"));
    writeFiles(app.config.storagePath, { "added/one.txt": "one\n" });
    const atFirst = snapshotState(app);
    const first = await app.caller(app.admin).backup.create({ backup_type: "incremental", wait: true });
    writeFiles(app.config.storagePath, { "added/two.txt": "two\n" });
    await app.caller(app.admin).backup.create({ backup_type: "incremental", wait: true });
    mutate(app);

    await app.caller(app.admin).backup.restore({ backup_id: first.id, confirm: true });
    // These backups hold no config, so the config stays as it is now.
    expect({ ...snapshotState(app), config: null }).toEqual({ ...atFirst, config: null });
    expect(fs.existsSync(path.join(app.config.storagePath, "added/two.txt"))).toBe(false);
  });

  it("takes each unchanged file from the archive of the chain that holds it (three archives deep)", async () => {
    await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    fs.writeFileSync(path.join(app.config.storagePath, "a.txt"), "second version of a\n");
    writeFiles(app.config.storagePath, { "added/one.txt": "one\n" });
    await app.caller(app.admin).backup.create({ backup_type: "incremental", wait: true });
    writeFiles(app.config.storagePath, { "added/two.txt": "two\n", "zz/last.txt": "after every other path\n" });
    const atSecond = snapshotState(app);
    const second = await app.caller(app.admin).backup.create({ backup_type: "incremental", wait: true });
    mutate(app);

    await app.caller(app.admin).backup.restore({ backup_id: second.id, confirm: true });
    expect({ ...snapshotState(app), config: null }).toEqual({ ...atSecond, config: null });
  });

  it("refuses a chain whose older archive holds other content than the incremental lists, and changes nothing", async () => {
    const full = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    const inc = await app.caller(app.admin).backup.create({ backup_type: "incremental", wait: true });
    // Another valid full backup, with other content in a.txt, takes the first one's place.
    fs.writeFileSync(path.join(app.config.storagePath, "a.txt"), "not what the incremental saw\n");
    const other = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    fs.copyFileSync(path.join(app.config.backupPath, other.filename), path.join(app.config.backupPath, full.filename));
    const before = snapshotState(app);
    await expect(app.caller(app.admin).backup.restore({ backup_id: inc.id, confirm: true })).rejects.toMatchObject({
      message: expect.stringMatching(/files\/a\.txt in backup_\S+ does not match what backup_\S+ lists for it: the chain is inconsistent/),
    });
    expect(snapshotState(app)).toEqual(before);
  });

  it("says which backup of the chain is missing", async () => {
    const full = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    const inc = await app.caller(app.admin).backup.create({ backup_type: "incremental", wait: true });
    fs.rmSync(path.join(app.config.backupPath, full.filename));
    const before = snapshotState(app);
    await expect(app.caller(app.admin).backup.restore({ backup_id: inc.id, confirm: true })).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: expect.stringContaining(`needs ${full.filename}, whose archive is missing`),
    });
    expect(snapshotState(app)).toEqual(before);
  });
});

describe("a restore killed at any step", () => {
  // Each point: where the child dies, and whether the restore had committed by then.
  const points: Array<[string, "old" | "new"]> = [
    ["restore:staged", "old"],
    ["restore:after-safety-backup", "old"],
    ["restore:journal-written", "new"],
    ["restore:database-aside", "new"],
    ["restore:after-database", "new"],
    ["restore:tree-aside:storage", "new"],
    ["restore:tree-first-moved:storage", "new"],
    ["restore:after-files", "new"],
    ["restore:after-config", "new"],
    ["restore:after-merged", "new"],
    ["restore:after-cleanup", "new"],
  ];

  it.each(points)("at %s leaves the %s state, complete, after the next start", async (point, expected) => {
    let app = createTestApp();
    try {
      seed(app);
      const old = snapshotState(app);
      const backup = await app.caller(app.admin).backup.create({ backup_type: "full", includes_config: true, wait: true });
      mutate(app);
      const current = snapshotState(app);
      const backupsBefore = app.db.select().from(backups).all().length;
      app = await app.restart();
      await app.ready; // spawnSync blocks this process: its start-up recovery must be over first

      const child = spawnSync(process.execPath, ["--import", "tsx", "tests/fixtures/run-restore.ts", String(backup.id), "config"], {
        cwd: REPO,
        env: { ...process.env, ...app.env, BALUHOST_CRASH_AT: point },
        encoding: "utf8",
      });
      expect(child.signal).toBe("SIGKILL");

      app = await app.restart();
      expect(snapshotState(app)).toEqual(expected === "new" ? old : current);
      expect(leftovers(app)).toEqual([]);
      const sqlite = new Database(app.config.databasePath, { readonly: true });
      expect(sqlite.pragma("integrity_check", { simple: true })).toBe("ok");
      sqlite.close();
      // The catalog lists every backup, never a half-written one as in progress.
      const rows = app.db.select().from(backups).all();
      expect(rows.filter((r) => r.status === "in_progress")).toEqual([]);
      expect(rows.length).toBeGreaterThanOrEqual(backupsBefore);
    } finally {
      await app.cleanup();
    }
  });
});

describe("a merge restore (an archive without a file list) killed at any step", () => {
  const points: Array<[string, "old" | "new"]> = [
    ["restore:staged", "old"],
    ["restore:after-safety-backup", "old"],
    ["restore:journal-written", "new"],
    ["restore:merge-first-aside:storage", "new"],
    ["restore:merge-first-moved:storage", "new"],
    ["restore:after-files", "new"],
    ["restore:after-cleanup", "new"],
  ];

  it.each(points)("at %s leaves the %s state, complete, after the next start", async (point, expected) => {
    const real = realInstallation();
    let app = createTestApp();
    try {
      writeFiles(app.config.storagePath, { "a.txt": "ours, replaced by the archive\n", "only-here/keep.txt": "not in the archive\n" });
      const current = hashTree(app.config.storagePath);
      const merged = { ...current, ...storageAsArchived(real) };
      const imported = await importBackup({
        db: app.db,
        config: app.config,
        actor: { id: null, username: "test" },
        source: { path: real.backup("files_only") },
        origin: "imported",
      });
      app = await app.restart();
      await app.ready;

      const child = spawnSync(process.execPath, ["--import", "tsx", "tests/fixtures/run-restore.ts", String(imported.id), "no-database"], {
        cwd: REPO,
        env: { ...process.env, ...app.env, BALUHOST_CRASH_AT: point },
        encoding: "utf8",
      });
      expect(child.signal).toBe("SIGKILL");

      app = await app.restart();
      expect(hashTree(app.config.storagePath)).toEqual(expected === "new" ? merged : current);
      expect(leftovers(app)).toEqual([]);
      expect(app.db.select().from(backups).all().filter((r) => r.status === "in_progress")).toEqual([]);
    } finally {
      await app.cleanup();
      real.remove();
    }
  });
});
