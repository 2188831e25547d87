import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "@/server/audit";
import { diffBackupFolder, listBackupFolder, openBackupFile, openBackupFolderArchive, searchBackup } from "@/server/backup/browse/browse";
import { seekIndexPath, treeIndexPath } from "@/server/backup/catalog";
import { restorePaths } from "@/server/backup/browse/restore-paths";
import { importBackup } from "@/server/backup/import";
import { applyRetention } from "@/server/backup/retention";
import { createBackup, deleteBackup } from "@/server/backup/service";
import { AppError } from "@/server/errors";
import { realInstallation } from "../helpers/real-baluhost";
import { writeFiles, writeRandomFile } from "../helpers/files";
import { createTestApp, makeTempDir, type TestApp } from "../helpers/test-app";
import { execFileSync } from "node:child_process";

async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const LONG = `files/alice/${"deep folder/".repeat(20)}${"ü".repeat(60)} end.txt`;

describe("browsing a backup", () => {
  let app: TestApp;
  beforeEach(() => {
    app = createTestApp();
    writeFiles(app.config.storagePath, {
      "alice/docs/report one.txt": "report v1\n",
      "alice/photos/ünïcödé.txt": "unicode\n",
      "bob/notes.md": "bob's notes\n",
      [LONG.slice("files/".length)]: "long path\n",
    });
    writeRandomFile(path.join(app.config.storagePath, "alice/photos/big.bin"), 3 * 1024 * 1024 + 17);
  });
  afterEach(() => app.cleanup());

  const backup = (type: "full" | "incremental" = "full") =>
    createBackup({ db: app.db, config: app.config, actor: SYSTEM_ACTOR, input: { backup_type: type, wait: true } });

  it("writes a seek index beside the manifest copy and lists folders from the chain-resolved index", async () => {
    const row = await backup();
    expect(fs.existsSync(seekIndexPath(app.config, row.filename))).toBe(true);
    const root = await listBackupFolder({ db: app.db, config: app.config, id: row.id, path: "" });
    expect(root.entries.map((e) => e.name)).toEqual(["database", "files"]);
    const alice = await listBackupFolder({ db: app.db, config: app.config, id: row.id, path: "files/alice" });
    expect(alice.entries.map((e) => `${e.type}:${e.name}`)).toEqual(["dir:deep folder", "dir:docs", "dir:photos"]);
    expect(fs.existsSync(treeIndexPath(app.config, row.filename))).toBe(true);
    const found = await searchBackup({ db: app.db, config: app.config, id: row.id, query: "ÜNÏ".toLowerCase() });
    expect(found.map((e) => e.path)).toEqual(["files/alice/photos/ünïcödé.txt"]);
  });

  it("keeps a backup's seek and browse indexes through retention's sweep, and sweeps those of no backup", async () => {
    const row = await backup();
    await listBackupFolder({ db: app.db, config: app.config, id: row.id, path: "files" });
    const stray = path.join(app.config.backupPath, ".manifests", "backup_20000101_000000.tar.gz.seek");
    fs.writeFileSync(stray, "left over");
    await applyRetention({ db: app.db, config: app.config, sweep: true });
    expect(fs.existsSync(seekIndexPath(app.config, row.filename))).toBe(true);
    expect(fs.existsSync(treeIndexPath(app.config, row.filename))).toBe(true);
    expect(fs.existsSync(stray)).toBe(false);
    await deleteBackup({ db: app.db, config: app.config, actor: SYSTEM_ACTOR, id: row.id });
    expect(fs.existsSync(seekIndexPath(app.config, row.filename))).toBe(false);
    expect(fs.existsSync(treeIndexPath(app.config, row.filename))).toBe(false);
  });

  it("reads single files, large and with long Unicode names, byte for byte", async () => {
    const row = await backup();
    const big = await openBackupFile({ db: app.db, config: app.config, id: row.id, path: "files/alice/photos/big.bin" });
    expect((await readAll(big.stream)).equals(fs.readFileSync(path.join(app.config.storagePath, "alice/photos/big.bin")))).toBe(true);
    const long = await openBackupFile({ db: app.db, config: app.config, id: row.id, path: LONG });
    expect((await readAll(long.stream)).toString()).toBe("long path\n");
  });

  it("falls back to a scan when the archive has no seek index", async () => {
    const row = await backup();
    fs.rmSync(seekIndexPath(app.config, row.filename));
    const f = await openBackupFile({ db: app.db, config: app.config, id: row.id, path: "files/bob/notes.md" });
    expect((await readAll(f.stream)).toString()).toBe("bob's notes\n");
  });

  it("never serves other bytes when the seek index points at the wrong place", async () => {
    const row = await backup();
    const seek = seekIndexPath(app.config, row.filename);
    const bytes = fs.readFileSync(seek);
    // Every entry offset (the front of the file, before the member table and trailer) set to 0: the first header.
    const entries = bytes.readDoubleLE(bytes.length - 48 + 16);
    for (let i = 0; i < entries; i++) if (bytes.readDoubleLE(i * 8) >= 0) bytes.writeDoubleLE(0, i * 8);
    fs.writeFileSync(seek, bytes);
    const f = await openBackupFile({ db: app.db, config: app.config, id: row.id, path: "files/bob/notes.md" });
    const err = await readAll(f.stream).catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe("ARCHIVE_INVALID");
  });

  it("resolves an incremental's unchanged files to the older archive", async () => {
    await backup();
    fs.writeFileSync(path.join(app.config.storagePath, "alice/docs/report one.txt"), "report v2\n");
    const inc = await backup("incremental");
    expect(inc.backupType).toBe("incremental");
    const notes = await openBackupFile({ db: app.db, config: app.config, id: inc.id, path: "files/bob/notes.md" });
    expect(notes.entry.src).not.toBe(inc.id);
    expect((await readAll(notes.stream)).toString()).toBe("bob's notes\n");
    const report = await openBackupFile({ db: app.db, config: app.config, id: inc.id, path: "files/alice/docs/report one.txt" });
    expect(report.entry.src).toBe(inc.id);
    expect((await readAll(report.stream)).toString()).toBe("report v2\n");
  });

  it("downloads a folder as a tar.gz GNU tar extracts", async () => {
    const row = await backup();
    const { stream } = await openBackupFolderArchive({ db: app.db, config: app.config, id: row.id, path: "files/alice" });
    const dir = makeTempDir();
    const file = path.join(dir, "a.tar.gz");
    fs.writeFileSync(file, await readAll(stream));
    execFileSync("tar", ["-xzf", file, "-C", dir]);
    expect(fs.readFileSync(path.join(dir, "alice/docs/report one.txt"), "utf8")).toBe("report v1\n");
    const big = fs.readFileSync(path.join(dir, "alice/photos/big.bin"));
    expect(crypto.createHash("sha256").update(big).digest("hex")).toBe(
      crypto.createHash("sha256").update(fs.readFileSync(path.join(app.config.storagePath, "alice/photos/big.bin"))).digest("hex"),
    );
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("compares a folder with the live data", async () => {
    const row = await backup();
    fs.rmSync(path.join(app.config.storagePath, "alice/docs/report one.txt"));
    writeFiles(app.config.storagePath, { "alice/docs/new.txt": "new\n" });
    const diff = await diffBackupFolder({ db: app.db, config: app.config, id: row.id, path: "files/alice/docs" });
    expect(diff.entries.map((e) => `${e.status}:${e.name}`).sort()).toEqual(["added:new.txt", "deleted:report one.txt"]);
  });

  it("tells a touched file from a changed one when asked to compare contents", async () => {
    const row = await backup();
    const notes = path.join(app.config.storagePath, "bob/notes.md");
    fs.utimesSync(notes, new Date(), new Date(Date.now() + 60_000)); // same bytes, another time
    const bySize = await diffBackupFolder({ db: app.db, config: app.config, id: row.id, path: "files/bob" });
    expect(bySize.entries.map((e) => `${e.status}:${e.name}`)).toEqual(["changed:notes.md"]);
    const byHash = await diffBackupFolder({ db: app.db, config: app.config, id: row.id, path: "files/bob", hash: true });
    expect(byHash.counts).toMatchObject({ same: 1, changed: 0 });
    fs.writeFileSync(notes, "bob's NOTES\n"); // same size, other bytes
    const edited = await diffBackupFolder({ db: app.db, config: app.config, id: row.id, path: "files/bob", hash: true });
    expect(edited.entries.map((e) => `${e.status}:${e.name}`)).toEqual(["changed:notes.md"]);
  });
});

describe("browsing imported archives", () => {
  let app: TestApp;
  afterEach(() => app.cleanup());

  it("browses and reads an imported archive of ours (no seek index: offsets found by one scan)", async () => {
    app = createTestApp();
    writeFiles(app.config.storagePath, { "alice/a.txt": "imported a\n", "bob/b.txt": "imported b\n" });
    const made = await createBackup({ db: app.db, config: app.config, actor: SYSTEM_ACTOR, input: { backup_type: "files_only", wait: true } });
    const outside = path.join(makeTempDir(), "copy.tar.gz");
    fs.copyFileSync(path.join(app.config.backupPath, made.filename), outside);
    await deleteBackup({ db: app.db, config: app.config, actor: SYSTEM_ACTOR, id: made.id });
    const row = await importBackup({ db: app.db, config: app.config, actor: SYSTEM_ACTOR, source: { path: outside }, origin: "imported" });
    expect(fs.existsSync(seekIndexPath(app.config, row.filename))).toBe(false);
    const page = await listBackupFolder({ db: app.db, config: app.config, id: row.id, path: "files" });
    expect(page.entries.map((e) => e.name)).toEqual(["alice", "bob"]);
    const b = await openBackupFile({ db: app.db, config: app.config, id: row.id, path: "files/bob/b.txt" });
    expect((await readAll(b.stream)).toString()).toBe("imported b\n");
  });

  it("browses an archive of the original BaluHost (no manifest) from its headers, and restores a file of it", async () => {
    app = createTestApp();
    await app.ready;
    const real = realInstallation();
    try {
      const row = await importBackup({ db: app.db, config: app.config, actor: SYSTEM_ACTOR, source: { path: real.backup("files_only") }, origin: "imported" });
      const page = await listBackupFolder({ db: app.db, config: app.config, id: row.id, path: "files/photos/2024" });
      expect(page.checksums).toBe(false);
      expect(page.entries.map((e) => e.name)).toEqual(["deep", "ünïcödé – Straße.txt"]);
      const f = await openBackupFile({ db: app.db, config: app.config, id: row.id, path: "files/photos/2024/ünïcödé – Straße.txt" });
      expect((await readAll(f.stream)).toString()).toBe("unicode name\n");
      await restorePaths({ db: app.db, config: app.config, actor: SYSTEM_ACTOR, id: row.id, paths: ["files/docs"], destination: "folder", folder: "from-old" });
      expect(fs.readFileSync(path.join(app.config.storagePath, "from-old/docs/report.pdf"))).toEqual(Buffer.from([0x25, 0x50, 0x44, 0x46, 0x00, 0xff, 0x10]));
    } finally {
      real.remove();
    }
  });
});
