import fs from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import { eq } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { BACKUP_TYPES, users } from "@/db/schema";
import { listAudit } from "@/server/audit";
import { backupListSchema, backupRecordSchema, restoreOutcomeSchema } from "@/server/backup/contract";
import { acquireOperationLock } from "@/server/backup/lock";
import { getBackup, listBackups } from "@/server/backup/service";
import { registerBackupCommands } from "@/server/cli/backups";
import type { CliIO } from "@/server/cli/io";
import { runCli } from "@/server/cli/program";
import { createUser } from "@/server/users";
import { runCliInProcess, spawnCli, type CliRun } from "../helpers/cli";
import { writeFiles } from "../helpers/files";
import { realInstallation } from "../helpers/real-baluhost";
import { createTestApp, makeTempDir, testEnv, type TestApp } from "../helpers/test-app";

const CREATED = /^created backup (\d+): (backup_\d{8}_\d{6}(?:_\d+)?\.tar\.gz) \([\d.,]+ [KMG]?i?B, ([a-z_]+)\)\n$/;

/** The real entry point as a child process, with no web server running: one data folder shared by the runs in order. */
describe("the backup CLI as a process", () => {
  let root: string;
  let env: Record<string, string>;
  beforeAll(() => {
    root = makeTempDir("baluhost-cli-backup-");
    env = testEnv(root);
    writeFiles(env.NAS_STORAGE_PATH!, { "a.txt": "original a\n" });
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it("creates a full backup whose archive is in the backup folder", async () => {
    const run = await spawnCli(["backup", "create", "--type", "full"], { env });
    expect(run.code).toBe(0);
    const [, id, filename, type] = CREATED.exec(run.stdout) ?? [];
    expect({ id, type }).toEqual({ id: "1", type: "full" });
    expect(fs.existsSync(path.join(env.NAS_BACKUP_PATH!, filename!))).toBe(true);
  });

  it("restores a changed file byte for byte and names the safety backup", async () => {
    const file = path.join(env.NAS_STORAGE_PATH!, "a.txt");
    fs.writeFileSync(file, "changed a\n");
    const run = await spawnCli(["backup", "restore", "1", "--yes"], { env });
    expect(run.code).toBe(0);
    expect(fs.readFileSync(file, "utf8")).toBe("original a\n");
    expect(run.stdout).toContain("safety backup 2 holds the state before this restore; restore it to undo");
  });
});

/** The commands in-process against a test app. */
describe("backup commands", () => {
  let app: TestApp;
  beforeEach(async () => {
    app = createTestApp();
    await app.ready;
    writeFiles(app.config.storagePath, { "a.txt": "original a\n", "dir/b.txt": "original b\n" });
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await app.cleanup();
  });

  const cli = (...args: string[]) => runCliInProcess(args, { groups: [registerBackupCommands] });
  const storageFile = (rel: string) => path.join(app.config.storagePath, rel);
  /** Makes a backup through the CLI and returns its id. */
  const created = async (type = "full"): Promise<number> => {
    const run = await cli("--json", "backup", "create", "--type", type);
    expect(run.code).toBe(0);
    return (JSON.parse(run.stdout) as { id: number }).id;
  };

  /** Runs the CLI with a stderr that says it is a terminal, as an admin's shell would. */
  async function runWithTerminalStderr(args: string[]): Promise<CliRun> {
    const stdout = new PassThrough();
    const stderr = Object.assign(new PassThrough(), { isTTY: true });
    let out = "";
    let err = "";
    stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
    stderr.setEncoding("utf8").on("data", (s: string) => (err += s));
    const io: CliIO = { stdin: new PassThrough().end(), stdout, stderr, env: {} };
    const code = await runCli(args, io, [registerBackupCommands]);
    await new Promise((resolve) => setImmediate(resolve));
    return { code, stdout: out, stderr: err };
  }

  it.each(BACKUP_TYPES)("creates a %s backup whose archive is in the backup folder", async (type) => {
    const run = await cli("backup", "create", "--type", type);
    expect(run.code).toBe(0);
    const [, id, filename] = CREATED.exec(run.stdout) ?? [];
    expect(getBackup(app.db, Number(id))).toMatchObject({ status: "completed", filename });
    expect(fs.existsSync(path.join(app.config.backupPath, filename!))).toBe(true);
  });

  it("makes an incremental backup on top of the previous full backup", async () => {
    const full = await created("full");
    const run = await cli("--json", "backup", "create", "--type", "incremental");
    expect(JSON.parse(run.stdout)).toMatchObject({ backup_type: "incremental", parent_id: full });
  });

  it("says on stderr when an incremental backup had nothing to build on and was made as a full backup", async () => {
    const run = await cli("backup", "create", "--type", "incremental");
    expect(run.stdout).toMatch(/, full\)\n$/);
    expect(run.stderr).toContain("this incremental was made as a full backup");
  });

  it("prints the new backup as the API's record with --json", async () => {
    const run = await cli("backup", "create", "--type", "full", "--json");
    const record = backupRecordSchema.parse(JSON.parse(run.stdout));
    expect(record).toMatchObject({ status: "completed", backup_type: "full", includes_database: true, includes_files: true });
    expect(fs.statSync(path.join(app.config.backupPath, record.filename)).size).toBe(record.size_bytes);
  });

  it("includes the config folder with --config", async () => {
    const run = await cli("--json", "backup", "create", "--type", "files_only", "--config");
    expect(JSON.parse(run.stdout)).toMatchObject({ backup_type: "files_only", includes_config: true });
  });

  it("leaves the config folder out without --config", async () => {
    const run = await cli("--json", "backup", "create", "--type", "full");
    expect(JSON.parse(run.stdout)).toMatchObject({ includes_config: false });
  });

  it("refuses an unknown --type as a usage error and makes no backup", async () => {
    const run = await cli("backup", "create", "--type", "everything");
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("Allowed choices are full, incremental, database_only, files_only");
    expect(run.stderr).toContain("Usage: baluhost backup create");
    expect(listBackups(app.db).backups).toEqual([]);
  });

  it("requires --type as a usage error", async () => {
    const run = await cli("backup", "create");
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("required option '--type <type>' not specified");
  });

  it("exits 1 with the backup's error message when the backup fails", async () => {
    // The job's staging folder for backup 1 cannot be made: a file is in its way.
    vi.spyOn(console, "error").mockImplementation(() => undefined); // the service logs the unexpected error
    fs.writeFileSync(path.join(app.config.backupPath, ".staging-1"), "in the way");
    const run = await cli("backup", "create", "--type", "database_only");
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/^error: backup 1 failed: .*EEXIST.*\n$/);
    expect(getBackup(app.db, 1).status).toBe("failed");
  });

  it("refuses a second backup while another backup or restore holds the lock", async () => {
    await app.ready; // start-up recovery holds the lock for a moment
    const lock = acquireOperationLock(app.config.backupPath, "backup", "a backup by the web server");
    try {
      const run = await cli("backup", "create", "--type", "full");
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^error: another backup or restore is in progress/i);
      expect(listBackups(app.db).backups).toEqual([]);
    } finally {
      lock.release();
    }
  });

  it("records one backup.create audit entry, by the CLI actor", async () => {
    await created("full");
    expect(listAudit(app.db, { action: "backup.create" }).entries).toMatchObject([
      { actorId: null, actorName: expect.stringMatching(/^cli(:.+)?$/), success: true },
    ]);
  });

  it("draws a progress line on stderr when stderr is a terminal", async () => {
    const run = await runWithTerminalStderr(["backup", "create", "--type", "full"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(CREATED);
    expect(run.stderr).toMatch(/\r\x1b\[Kdone: 3\/3 files, [\d.]+\/[\d.]+ MB, 100\.0%, .+\n$/);
  });

  it("writes nothing on stderr while creating a backup when stderr is not a terminal", async () => {
    const run = await cli("backup", "create", "--type", "full");
    expect(run.stderr).toBe("");
  });

  it("lists backups newest first in a table, with a total line", async () => {
    const older = await created("full");
    const newer = await created("database_only");
    const lines = (await cli("backup", "list")).stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+CREATED\s+TYPE\s+STATUS\s+SIZE\s+FILENAME\s+ORIGIN\s+CREATOR$/);
    expect(lines[1]).toMatch(new RegExp(`^${newer}\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+database_only\\s+completed\\s+.+\\s+manual\\s+cli`));
    expect(lines[2]).toMatch(new RegExp(`^${older}\\s+.*\\bfull\\b`));
    expect(lines[3]).toMatch(/^2 backups, [\d.]+ KiB in completed backups$/);
  });

  it("lists backups as the API's list object with --json", async () => {
    const older = await created("full");
    const newer = await created("full");
    const list = backupListSchema.parse(JSON.parse((await cli("--json", "backup", "list")).stdout));
    expect(list.backups.map((b) => b.id)).toEqual([newer, older]);
    expect(list.total_size_bytes).toBe(list.backups[0]!.size_bytes + list.backups[1]!.size_bytes);
  });

  it("tells how to create the first backup when there are none", async () => {
    const run = await cli("backup", "list");
    expect(run).toMatchObject({
      code: 0,
      stdout: "no backups yet — create one with: npm run -s cli -- backup create --type full\n",
    });
  });

  it("shows the details of one backup", async () => {
    const id = await created("full");
    const { filename, sha256 } = getBackup(app.db, id);
    const run = await cli("backup", "show", String(id));
    expect(run.stdout).toMatch(new RegExp(`^backup ${id}\\n  file: +${filename.replace(/\./g, "\\.")} `));
    expect(run.stdout).toMatch(/\n  type: +full: database, files\n/);
    expect(run.stdout).toContain(`sha256:    ${sha256}`);
  });

  it("shows one backup as the API's record with --json", async () => {
    const id = await created("full");
    const run = await cli("--json", "backup", "show", String(id));
    expect(JSON.parse(run.stdout)).toEqual(getBackup(app.db, id));
  });

  it("says which backup does not exist", async () => {
    const run = await cli("backup", "show", "999");
    expect(run).toMatchObject({ code: 1, stdout: "", stderr: "error: Backup 999 does not exist.\n" });
  });

  it("refuses a backup id that is not a number as a usage error", async () => {
    const run = await cli("backup", "delete", "latest");
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("a backup id is a positive whole number");
  });

  it("deletes a backup's row and its archive", async () => {
    const id = await created("full");
    const archive = path.join(app.config.backupPath, getBackup(app.db, id).filename);
    const run = await cli("backup", "delete", String(id));
    expect(run).toMatchObject({ code: 0, stdout: `deleted backup ${id}\n` });
    expect(fs.existsSync(archive)).toBe(false);
    expect(listBackups(app.db).backups).toEqual([]);
  });

  it("writes a backup into a folder inside the backup folder with --path, and refuses one outside", async () => {
    const run = await cli("--json", "backup", "create", "--type", "database_only", "--path", "before-upgrade");
    expect(run.code, run.stderr).toBe(0);
    const record = JSON.parse(run.stdout) as { filename: string; backup_path: string };
    expect(record.backup_path).toBe("before-upgrade");
    expect(fs.existsSync(path.join(app.config.backupPath, "before-upgrade", record.filename))).toBe(true);

    const refused = await cli("backup", "create", "--type", "database_only", "--path", "/etc");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/outside the backup folder.*Backups may only be written to the backup folder/s);
    expect(listBackups(app.db).backups).toHaveLength(1);
  });

  it("protects a backup from retention and lets it go again", async () => {
    const id = await created("database_only");
    const name = getBackup(app.db, id).filename;
    const pinned = await cli("backup", "protect", String(id));
    expect(pinned).toMatchObject({ code: 0, stdout: `${name} is protected: retention never removes it\n` });
    expect(getBackup(app.db, id).protected).toBe(true);
    const unpinned = await cli("--json", "backup", "unprotect", String(id));
    expect(unpinned.code).toBe(0);
    expect(JSON.parse(unpinned.stdout)).toMatchObject({ id, protected: false });
    expect(getBackup(app.db, id).protected).toBe(false);
  });

  it("refuses a restore without --yes, explaining why, and changes nothing", async () => {
    const id = await created("full");
    fs.writeFileSync(storageFile("a.txt"), "changed a\n");
    const run = await cli("backup", "restore", String(id));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: a restore overwrites the current .*--yes/);
    expect(fs.readFileSync(storageFile("a.txt"), "utf8")).toBe("changed a\n");
    expect(listBackups(app.db).backups).toHaveLength(1);
  });

  it("restores a changed and a deleted file byte for byte with --yes", async () => {
    const id = await created("full");
    fs.writeFileSync(storageFile("a.txt"), "changed a\n");
    fs.rmSync(storageFile("dir"), { recursive: true });
    const run = await cli("backup", "restore", String(id), "--yes");
    expect(run.code).toBe(0);
    expect(fs.readFileSync(storageFile("a.txt"), "utf8")).toBe("original a\n");
    expect(fs.readFileSync(storageFile("dir/b.txt"), "utf8")).toBe("original b\n");
  });

  it("names the safety backup that undoes the restore", async () => {
    const id = await created("full");
    const run = await cli("backup", "restore", String(id), "--yes");
    const safetyId = Number(/safety backup (\d+) holds the state before this restore; restore it to undo\n$/.exec(run.stdout)?.[1]);
    expect(getBackup(app.db, safetyId)).toMatchObject({ origin: "safety", status: "completed" });
  });

  it("leaves the files alone with --no-files", async () => {
    const id = await created("full");
    fs.writeFileSync(storageFile("a.txt"), "changed a\n");
    const run = await cli("backup", "restore", String(id), "--yes", "--no-files");
    expect(run.code).toBe(0);
    expect(fs.readFileSync(storageFile("a.txt"), "utf8")).toBe("changed a\n");
  });

  it("leaves the database alone with --no-database", async () => {
    const id = await created("full");
    createUser(app.db, { username: "carol", password: "carol-password-1", role: "user" });
    const run = await cli("backup", "restore", String(id), "--yes", "--no-database");
    expect(run.code).toBe(0);
    expect(app.db.select().from(users).where(eq(users.username, "carol")).get()).toBeDefined();
  });

  it("prints the restore outcome as JSON with --json", async () => {
    const id = await created("full");
    const run = await cli("--json", "backup", "restore", String(id), "--yes");
    expect(restoreOutcomeSchema.parse(JSON.parse(run.stdout))).toMatchObject({ success: true, backup_id: id });
  });

  it("says which backup does not exist when restoring an unknown id", async () => {
    const run = await cli("backup", "restore", "999", "--yes");
    expect(run).toMatchObject({ code: 1, stderr: "error: Backup 999 does not exist.\n" });
  });

  it("imports and restores an archive given by its path", async () => {
    const id = await created("full");
    const outside = path.join(app.root, "elsewhere", "from-another-nas.tar.gz");
    fs.mkdirSync(path.dirname(outside));
    fs.copyFileSync(path.join(app.config.backupPath, getBackup(app.db, id).filename), outside);
    fs.writeFileSync(storageFile("a.txt"), "changed a\n");
    const run = await cli("backup", "restore", outside, "--yes");
    expect(run.code).toBe(0);
    expect(fs.readFileSync(storageFile("a.txt"), "utf8")).toBe("original a\n");
    expect(listBackups(app.db).backups.map((b) => b.origin)).toContain("imported");
  });

  it("names the path when there is no archive to import there", async () => {
    const run = await cli("backup", "restore", "./nowhere/backup.tar.gz", "--yes");
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: There is no archive at \/.*nowhere\/backup\.tar\.gz\./);
  });

  it("records the restore in the audit log with the CLI actor", async () => {
    const id = await created("full");
    await cli("backup", "restore", String(id), "--yes");
    expect(listAudit(app.db, { action: "backup.restore" }).entries).toMatchObject([
      { actorId: null, actorName: expect.stringMatching(/^cli/), resource: `backup:${id}`, success: true },
    ]);
  });
});

describe("importing and verifying archives from the CLI", () => {
  let app: TestApp;
  beforeEach(async () => {
    app = createTestApp();
    await app.ready;
    writeFiles(app.config.storagePath, { "a.txt": "original a\n" });
  });
  afterEach(() => app.cleanup());

  const cli = (...args: string[]) => runCliInProcess(args, { groups: [registerBackupCommands] });

  async function archiveCopy(): Promise<string> {
    const made = await cli("--json", "backup", "create", "--type", "full");
    const { filename } = JSON.parse(made.stdout) as { filename: string };
    const copy = path.join(makeTempDir(), "downloaded.tar.gz");
    fs.copyFileSync(path.join(app.config.backupPath, filename), copy);
    return copy;
  }

  it("imports a real BaluHost archive as declared with --type incremental", async () => {
    const real = realInstallation();
    try {
      const run = await cli("--json", "backup", "import", real.backup("files_only"), "--type", "incremental");
      expect(run.code).toBe(0);
      expect(backupRecordSchema.parse(JSON.parse(run.stdout))).toMatchObject({ backup_type: "incremental", has_file_list: false, parent_id: null });
    } finally {
      real.remove();
    }
  });

  it("imports an archive file so it can be restored by id", async () => {
    const copy = await archiveCopy();
    const run = await cli("--json", "backup", "import", copy);
    expect(run.code).toBe(0);
    const record = backupRecordSchema.parse(JSON.parse(run.stdout));
    expect(record).toMatchObject({ origin: "imported", status: "completed", verify_status: "ok" });
    expect(listBackups(app.db).backups).toHaveLength(2);
  });

  it("verifies a catalogued backup and records the result", async () => {
    await archiveCopy();
    const run = await cli("backup", "verify", "1");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^ok: backup 1 /);
    expect(getBackup(app.db, 1)).toMatchObject({ verify_status: "ok", verified_at: expect.any(String) });
  });

  it("reports a damaged archive file with exit code 1 and refuses to import it", async () => {
    const copy = await archiveCopy();
    const bytes = fs.readFileSync(copy);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    fs.writeFileSync(copy, bytes);
    const verify = await cli("backup", "verify", copy);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toMatch(/damaged/i);
    const imported = await cli("backup", "import", copy);
    expect(imported.code).toBe(1);
    expect(listBackups(app.db).backups).toHaveLength(1);
  });
});
