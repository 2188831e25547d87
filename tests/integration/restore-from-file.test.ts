/**
 * `backup restore FILE --yes`, the disaster path: the archive is read once (verified while it
 * is staged, copied into the catalog meanwhile), and a refused archive leaves nothing behind.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { INCOMING_PREFIX } from "@/server/backup/catalog";
import { extractArchive } from "@/server/backup/restore/extract";
import { restoreArchiveFile } from "@/server/backup/restore/from-file";
import { listBackups } from "@/server/backup/service";
import { registerBackupCommands } from "@/server/cli/backups";
import { runCliInProcess, spawnCli } from "../helpers/cli";
import { hashTree, sha256File, writeFiles, writeRandomFile } from "../helpers/files";
import { ourArchive, SAMPLE_ITEMS } from "../helpers/hostile-archives";
import { realInstallation, storageAsArchived } from "../helpers/real-baluhost";
import { createTestApp, makeTempDir, type TestApp } from "../helpers/test-app";

let app: TestApp;
beforeEach(async () => {
  app = createTestApp();
  await app.ready;
  writeFiles(app.config.storagePath, { "a.txt": "original a\n", "dir/b.txt": "original b\n" });
});
afterEach(() => app.cleanup());

const cli = (...args: string[]) => runCliInProcess(args, { groups: [registerBackupCommands] });
const actor = { id: null, username: "cli" };
const parts = { database: true, files: true, config: false };

/** A full backup of the current state, carried out of the catalog as a downloaded file (and removed from it). */
async function downloadedFull(): Promise<string> {
  const made = JSON.parse((await cli("--json", "backup", "create", "--type", "full")).stdout) as { id: number; filename: string };
  const file = path.join(makeTempDir(), "downloaded.tar.gz");
  fs.copyFileSync(path.join(app.config.backupPath, made.filename), file);
  await cli("backup", "delete", String(made.id));
  return file;
}

const incomingLeft = () => fs.readdirSync(app.config.backupPath).filter((n) => n.startsWith(INCOMING_PREFIX));

describe("restoring an archive file", () => {
  it("reads the file once, and catalogs a byte-identical, durable copy of it", async () => {
    const file = await downloadedFull();
    fs.writeFileSync(path.join(app.config.storagePath, "a.txt"), "changed a\n");
    // Our archives are read through one descriptor (member by member), others as one stream.
    const opened = [vi.spyOn(fs.promises, "open"), vi.spyOn(fs, "createReadStream"), vi.spyOn(fs, "openSync"), vi.spyOn(fs, "open")];
    try {
      const outcome = await restoreArchiveFile({ db: app.db, config: app.config, actor, parts, confirm: true, file });
      const calls: unknown[][] = opened.flatMap((spy) => spy.mock.calls as unknown[][]);
      expect(calls.filter(([p]) => p === file)).toHaveLength(1);
      expect(fs.readFileSync(path.join(app.config.storagePath, "a.txt"), "utf8")).toBe("original a\n");
      const record = listBackups(app.db).backups.find((b) => b.id === outcome.backup_id)!;
      expect(record).toMatchObject({ origin: "imported", status: "completed", sha256: sha256File(file), size_bytes: fs.statSync(file).size, has_file_list: true });
      expect(sha256File(path.join(app.config.backupPath, record.filename))).toBe(sha256File(file));
      expect(incomingLeft()).toEqual([]);
    } finally {
      for (const spy of opened) spy.mockRestore();
    }
  });

  it("through the CLI, says which backup the file became", async () => {
    const file = await downloadedFull();
    const run = await cli("backup", "restore", file, "--yes");
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/was added to the backup list as backup \d+/);
  });

  it("leaves neither a catalog entry nor the copy when the archive fails verification, and restores nothing", async () => {
    const file = await downloadedFull();
    const bytes = fs.readFileSync(file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x40;
    fs.writeFileSync(file, bytes);
    fs.writeFileSync(path.join(app.config.storagePath, "a.txt"), "changed a\n");
    const before = hashTree(app.config.storagePath);
    const countBefore = listBackups(app.db).backups.length;

    const run = await cli("backup", "restore", file, "--yes");
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/"downloaded\.tar\.gz"|downloaded\.tar\.gz/);
    expect(run.stderr).not.toContain(INCOMING_PREFIX);
    expect(hashTree(app.config.storagePath)).toEqual(before);
    expect(listBackups(app.db).backups).toHaveLength(countBefore);
    expect(incomingLeft()).toEqual([]);
  });

  it("of the real BaluHost restores its files without the database, and refuses the database keeping the catalogued copy", async () => {
    const real = realInstallation();
    try {
      const file = real.backup("full");
      const refused = await cli("backup", "restore", file, "--yes");
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/another application's.*--no-database/);
      expect(fs.readFileSync(path.join(app.config.storagePath, "a.txt"), "utf8")).toBe("original a\n");
      const catalogued = listBackups(app.db).backups.filter((b) => b.origin === "imported");
      expect(catalogued).toMatchObject([{ backup_type: "full", database_restorable: false, has_file_list: false }]);

      const run = await cli("backup", "restore", file, "--yes", "--no-database");
      expect(run.code).toBe(0);
      expect(hashTree(app.config.storagePath)).toEqual({ ...storageAsArchived(real), "dir/b.txt": expect.any(String) });
    } finally {
      real.remove();
    }
  });

  it("of an incremental of ours builds on its chain in the catalog", async () => {
    await cli("backup", "create", "--type", "full");
    fs.writeFileSync(path.join(app.config.storagePath, "a.txt"), "second a\n");
    const inc = JSON.parse((await cli("--json", "backup", "create", "--type", "incremental")).stdout) as { id: number; filename: string };
    const expected = hashTree(app.config.storagePath);
    const file = path.join(makeTempDir(), "inc.tar.gz");
    fs.copyFileSync(path.join(app.config.backupPath, inc.filename), file);
    fs.writeFileSync(path.join(app.config.storagePath, "a.txt"), "third a\n");

    const run = await cli("backup", "restore", file, "--yes");
    expect(run.code).toBe(0);
    expect(hashTree(app.config.storagePath)).toEqual(expected);
  });

  it("killed while it stages leaves no catalog entry, and the next start sweeps the copy", async () => {
    const file = await downloadedFull();
    const countBefore = listBackups(app.db).backups.length;
    const run = await spawnCli(["backup", "restore", file, "--yes"], { env: { ...app.env, BALUHOST_CRASH_AT: "restore-file:extracted" } });
    expect(run.code).toBe(-1);
    expect(incomingLeft().length).toBeGreaterThan(0);

    app = await app.restart();
    await app.ready;
    expect(incomingLeft()).toEqual([]);
    expect(listBackups(app.db).backups).toHaveLength(countBefore);
    expect(fs.readFileSync(path.join(app.config.storagePath, "a.txt"), "utf8")).toBe("original a\n");
  });
});

describe("the copy made while reading", () => {
  it("fails the read when it cannot be written (a full backup volume) and is removed", async (ctx) => {
    const small = makeTempDir("baluhost-full-volume-");
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", small], { stdio: "ignore" });
    } catch {
      ctx.skip(); // needs root to mount; CI runs as root
    }
    try {
      const media = path.join(makeTempDir(), "media.bin");
      writeRandomFile(media, 3 * 1024 * 1024);
      const archive = path.join(makeTempDir(), "three-mb.tar.gz");
      fs.writeFileSync(archive, ourArchive([...SAMPLE_ITEMS, { path: "files/media.bin", content: fs.readFileSync(media) }]));
      const into = makeTempDir();
      const copy = path.join(small, "copy.partial");
      await expect(extractArchive({ archivePath: archive, destinations: { files: into }, copyTo: copy })).rejects.toMatchObject({ code: "ENOSPC" });
      expect(fs.existsSync(copy)).toBe(false);
    } finally {
      execFileSync("umount", [small]);
    }
  });
});
