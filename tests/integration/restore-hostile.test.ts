import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { POST as uploadRoute } from "@/app/api/backups/upload/route";
import { GET as listRoute } from "@/app/api/backups/route";
import { POST as restoreRoute } from "@/app/api/backups/[id]/restore/route";
import { openDatabase, shippedMigrationLevel } from "@/db/client";
import { backups, users } from "@/db/schema";
import { importBackup } from "@/server/backup/import";
import { WORK_DIR } from "@/server/backup/restore/journal";
import { createApiToken } from "@/server/tokens";
import { hashTree, writeFiles } from "../helpers/files";
import { hostileCases, ourArchive, SAMPLE_ITEMS } from "../helpers/hostile-archives";
import { createTestApp, makeTempDir, type TestApp } from "../helpers/test-app";

function liveState(app: TestApp) {
  return {
    files: hashTree(app.config.storagePath),
    users: app.db.select({ u: users.username }).from(users).all().map((r) => r.u).sort(),
  };
}

function noStagingLeft(app: TestApp): boolean {
  return [app.config.storagePath, app.config.configPath, path.dirname(app.config.databasePath)].every(
    (dir) => !fs.existsSync(path.join(dir, WORK_DIR)),
  );
}

describe("archives from outside", () => {
  let app: TestApp;
  let token: string;
  beforeEach(() => {
    app = createTestApp();
    writeFiles(app.config.storagePath, { "docs/keep.txt": "precious\n" });
    token = createApiToken(app.db, { userId: app.admin.id, name: "test" }).token;
  });
  afterEach(() => app.cleanup());

  const upload = (body: Buffer) =>
    uploadRoute(
      new Request("http://localhost/api/backups/upload", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/gzip", "content-length": String(body.length) },
        body: new Uint8Array(body),
      }),
      { params: Promise.resolve({}) },
    );

  it("accepts a valid upload and lists it as uploaded and verified", async () => {
    const response = await upload(ourArchive(SAMPLE_ITEMS));
    expect(response.status).toBe(201);
    const record = await response.json();
    expect(record).toMatchObject({ origin: "uploaded", status: "completed", verify_status: "ok", backup_type: "files_only" });
    expect(fs.existsSync(path.join(app.config.backupPath, record.filename))).toBe(true);
  });

  // Cases that need lowered limits (entry count, size, name length) are covered by the extractor's unit tests.
  it.each(hostileCases().filter((c) => !c.limits).map((c) => [c.name, c] as const))("refuses a hostile upload (%s) and changes nothing", async (_name, hostile) => {
    const before = liveState(app);
    const outsideBefore = fs.readdirSync(path.dirname(app.config.backupPath)).sort();
    const response = await upload(hostile.archive);
    expect([413, 422]).toContain(response.status);
    const body = await response.json();
    expect(body.error.message.length).toBeGreaterThan(10);
    expect(app.db.select().from(backups).all()).toEqual([]);
    expect(fs.readdirSync(app.config.backupPath).filter((n) => !n.startsWith(".manifests"))).toEqual([]);
    expect(fs.readdirSync(path.dirname(app.config.backupPath)).sort()).toEqual(outsideBefore);
    expect(liveState(app)).toEqual(before);
    // The server still answers.
    const list = await listRoute(new Request("http://localhost/api/backups", { headers: { authorization: `Bearer ${token}` } }), { params: Promise.resolve({}) });
    expect(list.status).toBe(200);
  });

  it("refuses to restore a backup whose archive was damaged on disk, leaving live data as it was", async () => {
    writeFiles(app.config.storagePath, { "big.txt": "line of text that compresses\n".repeat(50_000) });
    const backup = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    const file = path.join(app.config.backupPath, backup.filename);
    const bytes = fs.readFileSync(file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x40;
    fs.writeFileSync(file, bytes);
    const before = liveState(app);
    await expect(app.caller(app.admin).backup.restore({ backup_id: backup.id, confirm: true })).rejects.toMatchObject({ code: "UNPROCESSABLE_CONTENT" });
    expect(liveState(app)).toEqual(before);
    expect(noStagingLeft(app)).toBe(true);
    const verified = await app.caller(app.admin).backup.verify({ id: backup.id });
    expect(verified).toMatchObject({ verify_status: "failed", verify_error: expect.any(String) });
  });

  it("refuses a backup made by a newer version, naming both versions", async () => {
    const dbCopy = path.join(makeTempDir(), "copy.db");
    const live = new Database(app.config.databasePath);
    live.prepare("VACUUM INTO ?").run(dbCopy);
    live.close();
    const archive = ourArchive(SAMPLE_ITEMS, { database: fs.readFileSync(dbCopy), mutateManifest: (m) => (m.migration_level = 99) });
    const response = await upload(archive);
    expect(response.status).toBe(201);
    const { id } = await response.json();
    const before = liveState(app);
    const refused = await restoreRoute(
      new Request(`http://localhost/api/backups/${id}/restore`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ backup_id: id, restore_database: true, restore_files: true, confirm: true }),
      }),
      { params: Promise.resolve({ id: String(id) }) },
    );
    expect(refused.status).toBe(422);
    expect((await refused.json()).error.message).toMatch(new RegExp(`newer version.*99.*has ${shippedMigrationLevel()}\\b`));
    expect(liveState(app)).toEqual(before);
  });

  it("answers 400 and restores nothing without confirm: true over REST", async () => {
    const backup = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    fs.writeFileSync(path.join(app.config.storagePath, "docs/keep.txt"), "changed\n");
    const response = await restoreRoute(
      new Request(`http://localhost/api/backups/${backup.id}/restore`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ backup_id: backup.id, restore_database: true, restore_files: true }),
      }),
      { params: Promise.resolve({ id: String(backup.id) }) },
    );
    expect(response.status).toBe(400);
    expect(fs.readFileSync(path.join(app.config.storagePath, "docs/keep.txt"), "utf8")).toBe("changed\n");
  });

  it("imports a spec-layout archive from another installation and restores its last writes from the -wal", async () => {
    // Another installation's database whose newest rows are still only in its -wal.
    const other = makeTempDir();
    const dbDir = path.join(other, "backup", "database");
    fs.mkdirSync(dbDir, { recursive: true });
    const source = path.join(other, "source.db");
    openDatabase(source).sqlite.close();
    const writer = new Database(source);
    writer.pragma("journal_mode = WAL");
    writer.pragma("wal_autocheckpoint = 0");
    writer.prepare("INSERT INTO users (username, password_hash, role) VALUES ('walwriter', 'x', 'admin')").run();
    fs.copyFileSync(source, path.join(dbDir, "baluhost.db"));
    fs.copyFileSync(`${source}-wal`, path.join(dbDir, "baluhost.db-wal"));
    writer.close();
    expect(new Database(path.join(dbDir, "baluhost.db"), { readonly: true }).prepare("SELECT count(*) AS n FROM users").get()).toBeDefined();
    writeFiles(path.join(other, "backup", "files"), { "from-other/hello.txt": "hello from the other NAS\n" });
    const archive = path.join(other, "other.tar.gz");
    execFileSync("tar", ["-czf", archive, "-C", other, "backup"]);

    const imported = await importBackup({ db: app.db, config: app.config, actor: { id: null, username: "cli" }, source: { path: archive }, origin: "imported" });
    expect(imported).toMatchObject({ origin: "imported", backupType: "full", includesDatabase: true, includesFiles: true });

    await app.caller(app.admin).backup.restore({ backup_id: imported.id, confirm: true });
    expect(app.db.select().from(users).all().map((u) => u.username)).toContain("walwriter");
    expect(fs.readFileSync(path.join(app.config.storagePath, "from-other/hello.txt"), "utf8")).toBe("hello from the other NAS\n");
    // Without our manifest there is no list of every file: files are added and replaced, none deleted.
    expect(imported.fileList).toBe(false);
    expect(fs.readFileSync(path.join(app.config.storagePath, "docs/keep.txt"), "utf8")).toBe("precious\n");
    expect(noStagingLeft(app)).toBe(true);
    // The catalog survived: the imported backup and the safety backup are listed.
    expect((await app.caller(app.admin).backup.list()).backups.map((b) => b.origin).sort()).toEqual(["imported", "safety"]);
  });
});

describe("messages about uploads", () => {
  it("name the file the admin uploaded, not the temporary one", async () => {
    const app = createTestApp();
    try {
      const attempt = importBackup({
        db: app.db,
        config: app.config,
        actor: { id: null, username: "cli" },
        source: { path: (() => {
          const file = path.join(makeTempDir(), "holiday-photos.tar.gz");
          fs.writeFileSync(file, "this is not an archive");
          return file;
        })() },
        origin: "imported",
        originalName: "holiday-photos.tar.gz",
      });
      await expect(attempt).rejects.toMatchObject({ code: "ARCHIVE_INVALID", message: expect.stringContaining('"holiday-photos.tar.gz"') });
      await expect(attempt).rejects.toMatchObject({ message: expect.not.stringContaining(".incoming-") });
    } finally {
      await app.cleanup();
    }
  });
});

describe("a database from another program", () => {
  it("is recorded as foreign at import and refused (422) before the restore touches anything; files alone restore", async () => {
    const app = createTestApp();
    try {
      writeFiles(app.config.storagePath, { "docs/keep.txt": "precious\n" });
      const other = makeTempDir();
      const dbDir = path.join(other, "backup", "database");
      fs.mkdirSync(dbDir, { recursive: true });
      // A users table, as another NAS manager might have, but not our schema and no migration history.
      const foreign = new Database(path.join(dbDir, "baluhost.db"));
      foreign.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, hashed_password TEXT)");
      foreign.exec("INSERT INTO users (email, hashed_password) VALUES ('x@example.org', 'y')");
      foreign.close();
      writeFiles(path.join(other, "backup", "files"), { "theirs.txt": "theirs\n" });
      const archive = path.join(other, "foreign.tar.gz");
      execFileSync("tar", ["-czf", archive, "-C", other, "backup"]);
      const imported = await importBackup({ db: app.db, config: app.config, actor: { id: null, username: "cli" }, source: { path: archive }, origin: "imported" });
      expect(imported).toMatchObject({ foreignDatabase: true, includesDatabase: true, fileList: false });
      const before = liveState(app);

      await expect(app.caller(app.admin).backup.restore({ backup_id: imported.id, restore_database: true, confirm: true })).rejects.toMatchObject({
        code: "UNPROCESSABLE_CONTENT",
        message: expect.stringMatching(/another application's.*restore_database: false/),
      });
      expect(liveState(app)).toEqual(before);
      expect(noStagingLeft(app)).toBe(true);
      // Left unset, the database part is off for a foreign database: the files restore.
      await app.caller(app.admin).backup.restore({ backup_id: imported.id, confirm: true });
      expect(fs.readFileSync(path.join(app.config.storagePath, "theirs.txt"), "utf8")).toBe("theirs\n");
      expect(fs.readFileSync(path.join(app.config.storagePath, "docs/keep.txt"), "utf8")).toBe("precious\n");
      // The app still works on its own database: a restart finds no journal to replay.
      const again = await app.restart();
      expect(again.db.select().from(users).all().map((u) => u.username)).toContain("admin");
      await again.cleanup();
    } catch (err) {
      await app.cleanup();
      throw err;
    }
  });
});

describe("two imports in the same second", () => {
  it("get distinct names, and each row keeps its own archive", async () => {
    const app = createTestApp();
    try {
      const dir = makeTempDir();
      const first = path.join(dir, "first.tar.gz");
      const second = path.join(dir, "second.tar.gz");
      fs.writeFileSync(first, ourArchive(SAMPLE_ITEMS));
      fs.writeFileSync(second, ourArchive([...SAMPLE_ITEMS, { path: "files/docs/c.txt", content: "third\n" }]));
      const actor = { id: null, username: "cli" };
      const rows = await Promise.all(
        [first, second].map((file) => importBackup({ db: app.db, config: app.config, actor, source: { path: file }, origin: "imported" })),
      );
      expect(new Set(rows.map((r) => r.filename)).size).toBe(2);
      for (const row of rows) {
        const bytes = fs.readFileSync(path.join(app.config.backupPath, row.filename));
        expect(createHash("sha256").update(bytes).digest("hex")).toBe(row.sha256);
      }
    } finally {
      await app.cleanup();
    }
  });
});

describe("disaster recovery of an incremental chain on a fresh machine", () => {
  it("imports the full backup and the incremental, links them by content, and restores the incremental", async () => {
    const source = createTestApp();
    const carried = makeTempDir();
    let expected: Record<string, string>;
    try {
      writeFiles(source.config.storagePath, { "keep.txt": "unchanged\n", "edit.txt": "v1\n", "gone.txt": "bye\n" });
      const full = await source.caller(source.admin).backup.create({ backup_type: "full", wait: true });
      fs.writeFileSync(path.join(source.config.storagePath, "edit.txt"), "version two\n");
      fs.rmSync(path.join(source.config.storagePath, "gone.txt"));
      const inc = await source.caller(source.admin).backup.create({ backup_type: "incremental", wait: true });
      expected = hashTree(source.config.storagePath);
      fs.copyFileSync(path.join(source.config.backupPath, full.filename), path.join(carried, "full.tar.gz"));
      fs.copyFileSync(path.join(source.config.backupPath, inc.filename), path.join(carried, "inc.tar.gz"));
    } finally {
      await source.cleanup();
    }

    const fresh = createTestApp();
    try {
      const actor = { id: null, username: "cli" };
      // A backup of other content is no parent: the incremental is refused until its own is there.
      writeFiles(fresh.config.storagePath, { "keep.txt": "other content\n" });
      const own = await fresh.caller(fresh.admin).backup.create({ backup_type: "full", wait: true });
      await expect(
        importBackup({ db: fresh.db, config: fresh.config, actor, source: { path: path.join(carried, "inc.tar.gz") }, origin: "imported" }),
      ).rejects.toMatchObject({ message: expect.stringContaining("Import that backup (and any incrementals between) first") });
      const importedFull = await importBackup({ db: fresh.db, config: fresh.config, actor, source: { path: path.join(carried, "full.tar.gz") }, origin: "imported" });
      const importedInc = await importBackup({ db: fresh.db, config: fresh.config, actor, source: { path: path.join(carried, "inc.tar.gz") }, origin: "imported" });
      expect(importedInc).toMatchObject({ backupType: "incremental", parentId: importedFull.id });
      expect(importedFull.id).not.toBe(own.id);
      await fresh.caller(fresh.admin).backup.restore({ backup_id: importedInc.id, confirm: true });
      expect(hashTree(fresh.config.storagePath)).toEqual(expected);
    } finally {
      await fresh.cleanup();
    }
  });
});
