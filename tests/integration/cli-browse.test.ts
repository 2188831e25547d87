import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "@/server/audit";
import { createBackup } from "@/server/backup/service";
import { registerBackupCommands } from "@/server/cli/backups";
import { createUser } from "@/server/users";
import { runCliInProcess } from "../helpers/cli";
import { writeFiles } from "../helpers/files";
import { createTestApp, type TestApp } from "../helpers/test-app";

describe("backup ls / cat / restore --path", () => {
  let app: TestApp;
  let id: number;
  const cli = (...args: string[]) => runCliInProcess(args, { groups: [registerBackupCommands] });
  const store = (rel: string) => path.join(app.config.storagePath, rel);

  beforeEach(async () => {
    app = createTestApp();
    createUser(app.db, { username: "bob", password: "bob-password-1", role: "user" });
    writeFiles(app.config.storagePath, { "alice/docs/a b.txt": "alice's file\n", "alice/ü.txt": "u\n", "bob/x.txt": "bob\n" });
    id = (await createBackup({ db: app.db, config: app.config, actor: SYSTEM_ACTOR, input: { backup_type: "full", wait: true } })).id;
  });
  afterEach(() => app.cleanup());

  it("lists a folder of a backup", async () => {
    const run = await cli("backup", "ls", String(id), "files/alice");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/dir .*docs\//);
    expect(run.stdout).toMatch(/file .*ü\.txt/);
    const json = await cli("--json", "backup", "ls", String(id), "files");
    expect(JSON.parse(json.stdout).entries.map((e: { name: string }) => e.name)).toEqual(["alice", "bob"]);
  });

  it("writes one file to stdout", async () => {
    const run = await cli("backup", "cat", String(id), "files/alice/docs/a b.txt");
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("alice's file\n");
  });

  it("says so when the path is not in the backup, and refuses hostile paths", async () => {
    const missing = await cli("backup", "cat", String(id), "files/alice/nothing.txt");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("is not in backup");
    const hostile = await cli("backup", "cat", String(id), "../../etc/passwd");
    expect(hostile.code).toBe(1);
    expect(hostile.stderr).toContain('".." is not allowed');
  });

  it("restores selected paths, a user's folder, and into a folder with --to", async () => {
    fs.rmSync(store("alice"), { recursive: true });
    fs.writeFileSync(store("bob/x.txt"), "bob changed\n");
    const dry = await cli("backup", "restore", String(id), "--user", "bob", "--dry-run");
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("bob/x.txt (live version is newer) -> kept as bob/x (before restore");
    expect(fs.readFileSync(store("bob/x.txt"), "utf8")).toBe("bob changed\n");

    const run = await cli("backup", "restore", String(id), "--path", "files/alice/docs", "--user", "bob");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("restored 2 files");
    expect(fs.readFileSync(store("alice/docs/a b.txt"), "utf8")).toBe("alice's file\n");
    expect(fs.existsSync(store("alice/ü.txt"))).toBe(false);
    expect(fs.readFileSync(store("bob/x.txt"), "utf8")).toBe("bob\n");

    const side = await cli("backup", "restore", String(id), "--path", "files/alice", "--to", "old/alice-copy");
    expect(side.code).toBe(0);
    expect(fs.readFileSync(store("old/alice-copy/alice/ü.txt"), "utf8")).toBe("u\n");
  });

  it("asks for --yes before --overwrite replaces current versions", async () => {
    const run = await cli("backup", "restore", String(id), "--path", "files/bob", "--overwrite");
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--yes");
  });
});
