import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { shippedMigrationLevel } from "@/db/client";
import { auditLog, backups } from "@/db/schema";
import type { BackupManifest } from "@/server/backup/archive";
import { readManifestFromArchive } from "@/server/backup/archive";
import { uniqueArchiveName } from "@/server/backup/catalog";
import { waitForBackup } from "@/server/backup/service";
import { gnuTarExtract, gnuTarList, hashTree, sha256File, writeFiles } from "../helpers/files";
import { createTestApp, makeTempDir, type TestApp } from "../helpers/test-app";

const DEEP = Array.from({ length: 12 }, (_, i) => `level-${i}-with-a-long-folder-name`).join("/");

function seedStorage(app: TestApp): void {
  writeFiles(app.config.storagePath, {
    "a.txt": "hello\n",
    "photos/2024/ünïcödé name.txt": "unicode\n",
    "docs/with space.md": "# spaced\n",
    "empty.bin": "",
    [`${DEEP}/deep.txt`]: "deep\n",
  });
  fs.mkdirSync(path.join(app.config.storagePath, "empty-dir"));
  fs.symlinkSync("a.txt", path.join(app.config.storagePath, "link-to-a"));
  fs.symlinkSync("/etc/passwd", path.join(app.config.storagePath, "link-outside"));
}

function archiveOf(app: TestApp, filename: string): string {
  return path.join(app.config.backupPath, filename);
}

describe("creating backups", () => {
  let app: TestApp;
  beforeEach(() => {
    app = createTestApp();
  });
  afterEach(() => app.cleanup());

  it("writes a full backup that GNU tar lists and extracts byte for byte", async () => {
    seedStorage(app);
    const backup = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    expect(backup).toMatchObject({ status: "completed", backup_type: "full", includes_database: true, includes_files: true });
    expect(backup.filename).toMatch(/^backup_\d{8}_\d{6}\.tar\.gz$/);
    const archive = archiveOf(app, backup.filename);
    expect(fs.statSync(archive).size).toBe(backup.size_bytes);
    expect(backup.sha256).toBe(sha256File(archive));

    const names = gnuTarList(archive);
    expect(names).toContain("backup/database/baluhost.db");
    expect(names).toContain("backup/files/a.txt");
    expect(names).toContain("backup/files/empty-dir");
    expect(names).toContain(`backup/files/${DEEP}/deep.txt`);
    expect(names.at(-1)).toBe("backup/manifest.json");

    const out = gnuTarExtract(archive, makeTempDir());
    expect(hashTree(path.join(out, "backup/files"))).toEqual(hashTree(app.config.storagePath));
    expect(names).not.toContain("backup/files/link-outside");
    expect(fs.readlinkSync(path.join(out, "backup/files/link-to-a"))).toBe("a.txt");
    // A link out of the tree is left out (a restore would refuse it) and reported in the audit log.
    expect(fs.existsSync(path.join(out, "backup/files/link-outside"))).toBe(false);
    const created = app.db.select().from(auditLog).where(eq(auditLog.action, "backup.create")).get();
    expect(created?.details).toMatchObject({ skipped: [{ path: "files/link-outside", reason: "unsafe-link" }] });
    fs.rmSync(out, { recursive: true, force: true });
  });

  it("stores a database snapshot that opens and holds the live rows", async () => {
    const backup = await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true });
    const out = gnuTarExtract(archiveOf(app, backup.filename), makeTempDir());
    const snapshot = new Database(path.join(out, "backup/database/baluhost.db"), { readonly: true });
    try {
      expect(snapshot.pragma("integrity_check", { simple: true })).toBe("ok");
      const names = snapshot.prepare("SELECT username FROM users ORDER BY username").all();
      expect(names).toEqual([{ username: "admin" }, { username: "alice" }]);
    } finally {
      snapshot.close();
    }
    expect(fs.existsSync(path.join(out, "backup/database/baluhost.db-wal"))).toBe(false);
    fs.rmSync(out, { recursive: true, force: true });
  });

  it("writes a manifest with versions, type and a checksum for every file", async () => {
    seedStorage(app);
    const backup = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    const manifest: BackupManifest = await readManifestFromArchive(archiveOf(app, backup.filename));
    expect(manifest).toMatchObject({
      format: "baluhost-backup",
      format_version: 1,
      backup_type: "full",
      migration_level: shippedMigrationLevel(),
      parent: null,
      includes: { database: true, files: true, config: false },
    });
    const file = manifest.entries.find((e) => e.path === "files/a.txt");
    expect(file).toMatchObject({ type: "file", size: 6, in_archive: true, sha256: sha256File(path.join(app.config.storagePath, "a.txt")) });
    expect(manifest.entries.find((e) => e.path === "files/link-to-a")).toMatchObject({ type: "symlink", link_target: "a.txt" });
    expect(manifest.totals.files).toBe(manifest.entries.filter((e) => e.type === "file" && e.path.startsWith("files/")).length + 1);
  });

  it("puts only the database in a database_only backup", async () => {
    seedStorage(app);
    const backup = await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true });
    const names = gnuTarList(archiveOf(app, backup.filename));
    expect(names).toContain("backup/database/baluhost.db");
    expect(names.some((n) => n.startsWith("backup/files"))).toBe(false);
    expect(backup).toMatchObject({ includes_database: true, includes_files: false });
  });

  it("puts only the files in a files_only backup", async () => {
    seedStorage(app);
    const backup = await app.caller(app.admin).backup.create({ backup_type: "files_only", wait: true });
    const names = gnuTarList(archiveOf(app, backup.filename));
    expect(names).toContain("backup/files/a.txt");
    expect(names.some((n) => n.startsWith("backup/database"))).toBe(false);
  });

  it("includes the config folder when asked", async () => {
    writeFiles(app.config.configPath, { "nas.json": '{"name":"nas"}' });
    const backup = await app.caller(app.admin).backup.create({ backup_type: "full", includes_config: true, wait: true });
    expect(gnuTarList(archiveOf(app, backup.filename))).toContain("backup/config/nas.json");
    expect(backup.includes_config).toBe(true);
  });

  it("refuses contradictory input with a reason and creates nothing", async () => {
    await expect(
      app.caller(app.admin).backup.create({ backup_type: "database_only", includes_files: true }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("cannot include files") });
    await expect(
      app.caller(app.admin).backup.create({ backup_type: "files_only", includes_database: true }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    expect(app.db.select().from(backups).all()).toEqual([]);
    expect(fs.readdirSync(app.config.backupPath).filter((n) => n.endsWith(".tar.gz"))).toEqual([]);
  });

  it("returns in_progress at once and completes in the background", async () => {
    seedStorage(app);
    const started = await app.caller(app.admin).backup.create({ backup_type: "full" });
    expect(started.status).toBe("in_progress");
    await waitForBackup(started.id);
    const finished = await app.caller(app.admin).backup.get({ id: started.id });
    expect(finished.status).toBe("completed");
    expect(finished.completed_at).not.toBeNull();
  });

  it("gives a second backup in the same second a distinct name", async () => {
    const first = await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true });
    const at = new Date(first.created_at);
    const next = uniqueArchiveName(app.db, app.config, at);
    expect(next).not.toBe(first.filename);
    expect(next).toMatch(/^backup_\d{8}_\d{6}_2\.tar\.gz$/);
  });

  it("lists backups newest first with their total size", async () => {
    const a = await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true });
    const b = await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true });
    const list = await app.caller(app.admin).backup.list();
    expect(list.backups.map((x) => x.id)).toEqual([b.id, a.id]);
    expect(list.total_size_bytes).toBe(a.size_bytes + b.size_bytes);
  });

  it("records who created a backup in the audit log", async () => {
    const backup = await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true });
    const entry = app.db.select().from(auditLog).where(eq(auditLog.action, "backup.create")).get();
    expect(entry).toMatchObject({ actorName: "admin", success: true, resource: `backup:${backup.id}` });
  });

  it("refuses a non-admin and changes nothing", async () => {
    seedStorage(app);
    await expect(app.caller(app.user).backup.create({ backup_type: "full", wait: true })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(app.caller(null).backup.list()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    expect(app.db.select().from(backups).all()).toEqual([]);
    expect(fs.readdirSync(app.config.backupPath).filter((n) => !n.startsWith("."))).toEqual([]);
  });

  it("deletes a backup's archive and row, and says when an id does not exist", async () => {
    const backup = await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true });
    await app.caller(app.admin).backup.delete({ id: backup.id });
    expect(fs.existsSync(archiveOf(app, backup.filename))).toBe(false);
    await expect(app.caller(app.admin).backup.get({ id: backup.id })).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: expect.stringContaining(String(backup.id)),
    });
    const audit = app.db.select().from(auditLog).where(eq(auditLog.action, "backup.delete")).all();
    expect(audit).toHaveLength(1);
  });
});
