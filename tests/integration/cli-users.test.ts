import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { getDatabaseHandle, openDatabase, type DatabaseHandle } from "@/db/client";
import { auditLog } from "@/db/schema";
import { listAudit } from "@/server/audit";
import { authenticateToken } from "@/server/tokens";
import { checkCredentials } from "@/server/users";
import { fakeTerminal, runCliInProcess, spawnCli } from "../helpers/cli";
import { ADMIN_PASSWORD, createTestApp, makeTempDir, testEnv, type TestApp } from "../helpers/test-app";

/**
 * The real entry point as a child process: one data folder shared by the runs in order
 * (each spawn costs ~1 s), the database opened separately to check what the CLI wrote.
 */
describe("the CLI as a process", () => {
  let root: string;
  let env: Record<string, string>;
  let handle: DatabaseHandle | undefined;
  beforeAll(() => {
    root = makeTempDir("baluhost-cli-");
    env = testEnv(root);
  });
  afterEach(() => {
    handle?.sqlite.close();
    handle = undefined;
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  const openAppDb = () => {
    handle = openDatabase(env.NAS_DATABASE_PATH!, { migrate: false });
    return handle.db;
  };

  it("creates a user whose piped password then signs in", async () => {
    const run = await spawnCli(["user", "create", "bob", "--role", "admin"], { env, input: "bob-password-1\n" });
    expect(run).toMatchObject({ code: 0, stdout: "created user bob (admin)\n" });
    const db = openAppDb();
    expect(checkCredentials(db, "bob", "bob-password-1")).toMatchObject({ username: "bob", role: "admin" });
    expect(db.select().from(auditLog).all()).toContainEqual(
      expect.objectContaining({ action: "user.create", actorId: null, actorName: expect.stringMatching(/^cli/), success: true }),
    );
  });

  it("exits 1 with a one-line error when the user already exists", async () => {
    const run = await spawnCli(["user", "create", "bob"], { env, input: "another-password\n" });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('error: User "bob" already exists.\n');
    expect(run.stdout).toBe("");
  });

  it("resets a password so only the new one signs in", async () => {
    const run = await spawnCli(["user", "reset-password", "bob"], { env, input: "bob-password-2\n" });
    expect(run.code).toBe(0);
    const db = openAppDb();
    expect(checkCredentials(db, "bob", "bob-password-2")).not.toBeNull();
    expect(checkCredentials(db, "bob", "bob-password-1")).toBeNull();
  });

  it("prints only the token on stdout, and the token authenticates its user", async () => {
    const run = await spawnCli(["token", "create", "bob", "--name", "nightly"], { env });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^bh_\S+\n$/);
    expect(run.stderr).toContain("shown only this once");
    expect(authenticateToken(openAppDb(), run.stdout.trim())).toMatchObject({ username: "bob" });
  });

  it("exits 2 with usage on an unknown command", async () => {
    const run = await spawnCli(["frobnicate"], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("error: unknown command 'frobnicate'");
    expect(run.stderr).toContain("Usage: baluhost");
  });

  it("prints the generated admin password of a first run on stderr, keeping stdout for the result", async () => {
    const fresh = testEnv(path.join(root, "fresh"));
    delete fresh.ADMIN_PASSWORD;
    const run = await spawnCli(["token", "create", "admin", "--name", "first"], { env: fresh });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^bh_\S+\n$/);
    expect(run.stderr).toMatch(/created user "admin" with password: \S+/);
  });
});

/** The same commands in-process against a test app: output details, prompts, audit rows. */
describe("CLI commands", () => {
  let app: TestApp;
  beforeEach(() => {
    app = createTestApp();
  });
  afterEach(() => app.cleanup());

  const audit = (action: string) => listAudit(app.db, { action }).entries;

  it("creates a normal user when no role is given", async () => {
    const run = await runCliInProcess(["user", "create", "carol"], { input: "carol-password\n" });
    expect(run.stdout).toBe("created user carol (user)\n");
  });

  it("takes the piped password without its Windows line ending", async () => {
    await runCliInProcess(["user", "create", "carol"], { input: "carol-password\r\n" });
    expect(checkCredentials(app.db, "carol", "carol-password")).not.toBeNull();
  });

  it("prints the created user as JSON with --json", async () => {
    const run = await runCliInProcess(["--json", "user", "create", "carol"], { input: "carol-password\n" });
    expect(JSON.parse(run.stdout)).toEqual({ id: expect.any(Number), username: "carol", role: "user" });
  });

  it("refuses an empty stdin with a hint how to pipe the password", async () => {
    const run = await runCliInProcess(["user", "create", "carol"], { input: "" });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: No password on stdin/);
    expect(checkCredentials(app.db, "carol", "")).toBeNull();
  });

  it("refuses a role that does not exist as a usage error", async () => {
    const run = await runCliInProcess(["user", "create", "carol", "--role", "root"], { input: "carol-password\n" });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("Allowed choices are admin, user");
  });

  it("records user.create with the CLI actor", async () => {
    await runCliInProcess(["user", "create", "carol"], { input: "carol-password\n" });
    expect(audit("user.create")).toMatchObject([
      { actorId: null, actorName: expect.stringMatching(/^cli(:.+)?$/), resource: "user:carol", success: true },
    ]);
  });

  it("records a refused user.create with its reason", async () => {
    await runCliInProcess(["user", "create", "carol"], { input: "short\n" });
    expect(audit("user.create")).toMatchObject([{ success: false, errorMessage: expect.stringContaining("at least 8") }]);
  });

  it("never writes the password into the audit log", async () => {
    await runCliInProcess(["user", "create", "carol"], { input: "carol-password\n" });
    await runCliInProcess(["user", "reset-password", "carol"], { input: "carol-password-2\n" });
    expect(JSON.stringify(app.db.select().from(auditLog).all())).not.toMatch(/carol-password/);
  });

  it("records user.reset_password", async () => {
    await runCliInProcess(["user", "reset-password", "alice"], { input: "alice-password-2\n" });
    expect(audit("user.reset_password")).toMatchObject([{ resource: "user:alice", success: true }]);
  });

  it("says which user does not exist when resetting an unknown user's password", async () => {
    const run = await runCliInProcess(["user", "reset-password", "nobody"], { input: "whatever-password\n" });
    expect(run).toMatchObject({ code: 1, stderr: 'error: User "nobody" does not exist.\n' });
  });

  it("prompts twice without echo on a terminal and creates the user", async () => {
    const tty = fakeTerminal();
    const done = runCliInProcess(["user", "create", "carol"], { input: tty });
    tty.write("carol-password\r");
    tty.write("carol-password\r");
    const run = await done;
    expect(run.code).toBe(0);
    expect(run.stderr).toBe("Password: \nRepeat password: \n");
    expect(tty.rawModes).toEqual([true, false, true, false]);
    expect(checkCredentials(app.db, "carol", "carol-password")).not.toBeNull();
  });

  it("accepts both answers pasted at once on a terminal", async () => {
    const tty = fakeTerminal();
    const done = runCliInProcess(["user", "create", "carol"], { input: tty });
    tty.write("carol-password\rcarol-password\r");
    expect((await done).code).toBe(0);
  });

  it("applies backspace typed at the password prompt", async () => {
    const tty = fakeTerminal();
    const done = runCliInProcess(["user", "reset-password", "alice"], { input: tty });
    tty.write("new-passwordX\u007f\r");
    tty.write("new-password\r");
    expect((await done).code).toBe(0);
    expect(checkCredentials(app.db, "alice", "new-password")).not.toBeNull();
  });

  it("changes nothing when the two passwords typed on a terminal differ", async () => {
    const tty = fakeTerminal();
    const done = runCliInProcess(["user", "reset-password", "alice"], { input: tty });
    tty.write("new-password-1\r");
    tty.write("new-password-2\r");
    const run = await done;
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("error: The passwords do not match");
    expect(checkCredentials(app.db, "alice", "new-password-1")).toBeNull();
  });

  it("exits 130 and changes nothing on Ctrl-C at the prompt", async () => {
    const tty = fakeTerminal();
    const done = runCliInProcess(["user", "create", "carol"], { input: tty });
    tty.write("carol-pa\u0003");
    const run = await done;
    expect(run.code).toBe(130);
    expect(tty.rawModes.at(-1)).toBe(false);
    expect(audit("user.create")).toEqual([]);
  });

  it("prints a new token as JSON with --json", async () => {
    const run = await runCliInProcess(["token", "create", "alice", "--name", "sync", "--json"]);
    const printed = JSON.parse(run.stdout) as { token: string };
    expect(printed).toMatchObject({ name: "sync", username: "alice", token: expect.stringMatching(/^bh_/) });
    expect(authenticateToken(app.db, printed.token)?.username).toBe("alice");
  });

  it("records token.create with the new token's id but not the token", async () => {
    const run = await runCliInProcess(["token", "create", "alice", "--name", "sync"]);
    const rows = audit("token.create");
    expect(rows).toMatchObject([{ actorId: null, resource: expect.stringMatching(/^token:\d+$/), success: true }]);
    expect(JSON.stringify(rows)).not.toContain(run.stdout.trim());
  });

  it("refuses a token for a user that does not exist", async () => {
    const run = await runCliInProcess(["token", "create", "nobody", "--name", "sync"]);
    expect(run).toMatchObject({ code: 1, stdout: "", stderr: 'error: User "nobody" does not exist.\n' });
  });

  it("requires a name for a token", async () => {
    const run = await runCliInProcess(["token", "create", "alice"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("required option '--name <label>' not specified");
  });

  it("revokes a token by id and records it", async () => {
    const created = JSON.parse((await runCliInProcess(["--json", "token", "create", "alice", "--name", "x"])).stdout);
    const run = await runCliInProcess(["token", "revoke", String(created.id)]);
    expect(run.stdout).toBe(`revoked token ${created.id} (x)\n`);
    expect(authenticateToken(app.db, created.token)).toBeNull();
    expect(audit("token.revoke")).toMatchObject([{ resource: `token:${created.id}`, success: true }]);
  });

  it("lists tokens by prefix, never the token itself", async () => {
    const created = JSON.parse((await runCliInProcess(["--json", "token", "create", "alice", "--name", "x"])).stdout);
    const run = await runCliInProcess(["token", "list"]);
    expect(run.stdout).toContain(created.token.slice(0, 10));
    expect(run.stdout).not.toContain(created.token);
  });

  it("shows an unexpected error as one line, with the stack only under BALUHOST_DEBUG=1", async () => {
    getDatabaseHandle().sqlite.exec("DROP TABLE api_tokens");
    const plain = await runCliInProcess(["token", "list"]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/^error: .*api_tokens.*\n\(run again with BALUHOST_DEBUG=1/);
    expect(plain.stderr).not.toMatch(/\n\s+at /);
    const debug = await runCliInProcess(["token", "list"], { env: { BALUHOST_DEBUG: "1" } });
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it("resets only the named user's password", async () => {
    await runCliInProcess(["user", "reset-password", "alice"], { input: "alice-password-2\n" });
    expect(checkCredentials(app.db, "admin", ADMIN_PASSWORD)).not.toBeNull();
  });
});
