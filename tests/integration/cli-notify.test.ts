import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { apiTokens, auditLog, notificationDeliveries } from "@/db/schema";
import { announce } from "@/server/backup/notify/announce";
import { deliveringAnnouncements } from "@/server/backup/notify/sender";
import { channelSecretPath } from "@/server/backup/notify/secrets";
import { registerNotifyCommands } from "@/server/cli/notify";
import { registerTokenCommands } from "@/server/cli/tokens";
import { runCliInProcess, spawnCli } from "../helpers/cli";
import { insertBackup } from "../helpers/catalog-rows";
import { closedPort, startMailReceiver, useAppWithWebhook } from "../helpers/notify";

const SECRET = "cli-secret-value-never-in-argv";
const groups = [registerNotifyCommands, registerTokenCommands];
const cli = (args: string[], options: { input?: string; env?: Record<string, string> } = {}) => runCliInProcess(args, { ...options, groups });

describe("CLI notify", () => {
  const ctx = useAppWithWebhook();

  it("adds a webhook with the secret from an environment variable, lists it without the secret", async () => {
    const added = await cli(["notify", "add-webhook", "--name", "ops", "--url", ctx.hook.url, "--secret-env", "HOOK_SECRET"], { env: { HOOK_SECRET: SECRET } });
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/^added webhook channel 1 \(ops\)/);
    expect(fs.readFileSync(channelSecretPath(ctx.app.config, 1), "utf8")).toBe(SECRET);
    const listed = await cli(["--json", "notify", "list"]);
    expect(JSON.parse(listed.stdout)).toMatchObject([{ id: 1, name: "ops", has_secret: true }]);
    expect(listed.stdout).not.toContain(SECRET);
  });

  it("reads the SMTP password from stdin for add-email", async () => {
    const added = await cli(
      ["notify", "add-email", "--name", "mail", "--host", "127.0.0.1", "--security", "none", "--port", "2525", "--user", "nas", "--from", "nas@example.com", "--to", "a@example.com,b@example.com", "--secret-stdin"],
      { input: `${SECRET}\n` },
    );
    expect(added.code).toBe(0);
    expect(fs.readFileSync(channelSecretPath(ctx.app.config, 1), "utf8")).toBe(SECRET);
    expect(JSON.stringify(ctx.app.db.select().from(auditLog).all())).not.toContain(SECRET);
  });

  it("refuses --secret-env naming an unset variable, and creates nothing", async () => {
    const run = await cli(["notify", "add-webhook", "--name", "ops", "--url", ctx.hook.url, "--secret-env", "NOT_SET"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/NOT_SET is not set/);
    expect((await cli(["--json", "notify", "list"])).stdout.trim()).toBe("[]");
  });

  it("refuses an unknown event name as a usage error", async () => {
    const run = await cli(["notify", "add-webhook", "--name", "ops", "--url", ctx.hook.url, "--events", "backup_failed,coffee_low"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/unknown event coffee_low/);
  });

  it("`notify test <name>` sends a test and exits 0 when it arrived", async () => {
    await cli(["notify", "add-webhook", "--name", "ops", "--url", ctx.hook.url]);
    const run = await cli(["notify", "test", "ops"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^test message sent to "ops"/);
    expect(JSON.parse(ctx.hook.requests[0]!.body).event).toBe("test");
  });

  it("`notify test <id>` exits 1 with the readable error when it did not arrive", async () => {
    const port = await closedPort();
    await cli(["notify", "add-email", "--name", "mail", "--host", "127.0.0.1", "--port", String(port), "--security", "none", "--from", "nas@example.com", "--to", "a@example.com"]);
    const run = await cli(["notify", "test", "1"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`error: the test message to "mail" was not delivered: Connection refused by 127.0.0.1:${port}`);
  });

  it("`notify test` names a channel that does not exist", async () => {
    const run = await cli(["notify", "test", "nope"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/no notification channel named "nope"/);
  });

  it("`notify remove` removes the channel and its secret", async () => {
    await cli(["notify", "add-webhook", "--name", "ops", "--url", ctx.hook.url, "--secret-env", "S"], { env: { S: SECRET } });
    const run = await cli(["notify", "remove", "ops"]);
    expect(run.code).toBe(0);
    expect(fs.existsSync(channelSecretPath(ctx.app.config, 1))).toBe(false);
  });

  it("`health` prints the summary and exits 1 when critical", async () => {
    const run = await cli(["health"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^CRITICAL: No backup has been made yet/);
  });

  it("`health --json` prints the health and exits 0 when protected", async () => {
    insertBackup(ctx.app, new Date(Date.now() - 60_000));
    const run = await cli(["--json", "health"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: "ok", backups_count: 1 });
  });

  it("`token create --scope monitoring` makes a monitoring token", async () => {
    const run = await cli(["--json", "token", "create", "admin", "--name", "prometheus", "--scope", "monitoring"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ scope: "monitoring" });
    expect(ctx.app.db.select().from(apiTokens).get()!.scope).toBe("monitoring");
  });

  it("delivers what a command announced before the command returns (best effort)", async () => {
    const mail = await startMailReceiver();
    try {
      await cli(["notify", "add-email", "--name", "mail", "--host", "127.0.0.1", "--port", String(mail.port), "--security", "none", "--from", "nas@example.com", "--to", "a@example.com"]);
      await deliveringAnnouncements(
        async () => announce(ctx.app.db, { event: "backup_failed", severity: "critical", title: "Backup failed", message: "m", action: "a" }),
        { db: () => ctx.app.db, config: () => ctx.app.config },
      );
      expect(mail.messages.map((m) => m.subject)).toEqual([expect.stringMatching(/Backup failed$/)]);
      expect(ctx.app.db.select().from(notificationDeliveries).get()!.status).toBe("sent");
    } finally {
      await mail.close();
    }
  });

  it("a real CLI process takes the secret from the environment, not argv", async () => {
    const run = await spawnCli(["--json", "notify", "add-webhook", "--name", "ops", "--url", ctx.hook.url, "--secret-env", "HOOK_SECRET"], {
      env: { ...ctx.app.env, HOOK_SECRET: SECRET },
    });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ name: "ops", has_secret: true });
    expect(run.stdout + run.stderr).not.toContain(SECRET);
  });
});
