import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readManifestFromArchive } from "@/server/backup/archive";
import { gnuTarList, sha256File, writeFiles } from "../helpers/files";
import { createTestApp, type TestApp } from "../helpers/test-app";

describe("incremental backups", () => {
  let app: TestApp;
  beforeEach(() => {
    app = createTestApp();
    writeFiles(app.config.storagePath, {
      "keep.txt": "unchanged\n",
      "change.txt": "before\n",
      "remove.txt": "going away\n",
      "sub/keep2.txt": "also unchanged\n",
    });
  });
  afterEach(() => app.cleanup());

  const storage = (rel: string) => path.join(app.config.storagePath, rel);

  it("stores only added and changed files, and lists every file present", async () => {
    const full = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    fs.writeFileSync(storage("change.txt"), "after, and longer\n");
    fs.utimesSync(storage("change.txt"), new Date(), new Date(Date.now() + 5000));
    fs.rmSync(storage("remove.txt"));
    writeFiles(app.config.storagePath, { "new/added.txt": "new\n" });

    const inc = await app.caller(app.admin).backup.create({ backup_type: "incremental", wait: true });
    expect(inc).toMatchObject({ status: "completed", backup_type: "incremental", parent_id: full.id });

    const archive = path.join(app.config.backupPath, inc.filename);
    const names = gnuTarList(archive);
    expect(names).toContain("backup/files/change.txt");
    expect(names).toContain("backup/files/new/added.txt");
    expect(names).not.toContain("backup/files/keep.txt");
    expect(names).not.toContain("backup/files/remove.txt");

    const manifest = await readManifestFromArchive(archive);
    const byPath = new Map(manifest.entries.map((e) => [e.path, e]));
    expect(manifest.parent).toEqual({ id: full.id, filename: full.filename });
    expect(byPath.get("files/keep.txt")).toMatchObject({ in_archive: false, sha256: sha256File(storage("keep.txt")) });
    expect(byPath.get("files/change.txt")).toMatchObject({ in_archive: true, sha256: sha256File(storage("change.txt")) });
    expect(byPath.has("files/remove.txt")).toBe(false);
    expect(byPath.get("files/new/added.txt")?.in_archive).toBe(true);
  });

  it("stores no file bodies when nothing changed", async () => {
    await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    const inc = await app.caller(app.admin).backup.create({ backup_type: "incremental", includes_database: false, wait: true });
    const manifest = await readManifestFromArchive(path.join(app.config.backupPath, inc.filename));
    expect(manifest.totals.archived_files).toBe(0);
    expect(manifest.entries.filter((e) => e.type === "file").every((e) => !e.in_archive)).toBe(true);
    expect(manifest.totals.files).toBe(4);
  });

  it("builds on the newest backup of the chain", async () => {
    await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    const first = await app.caller(app.admin).backup.create({ backup_type: "incremental", wait: true });
    const second = await app.caller(app.admin).backup.create({ backup_type: "incremental", wait: true });
    expect(second.parent_id).toBe(first.id);
  });

  it("starts as a full backup when there is nothing to build on", async () => {
    const inc = await app.caller(app.admin).backup.create({ backup_type: "incremental", wait: true });
    expect(inc).toMatchObject({ backup_type: "full", parent_id: null, status: "completed" });
    expect(gnuTarList(path.join(app.config.backupPath, inc.filename))).toContain("backup/files/keep.txt");
  });

  it("refuses to delete a backup an incremental builds on", async () => {
    const full = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    const inc = await app.caller(app.admin).backup.create({ backup_type: "incremental", wait: true });
    await expect(app.caller(app.admin).backup.delete({ id: full.id })).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining(String(inc.id)),
    });
    expect(fs.existsSync(path.join(app.config.backupPath, full.filename))).toBe(true);
  });
});
