/** `schedule ...` on the command line: the real entry point as a process, and in-process for the details. */
import fs from "node:fs";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { backupPlans, backups } from "@/db/schema";
import { listAudit } from "@/server/audit";
import { stagingPath } from "@/server/backup/catalog";
import { acquireOperationLock } from "@/server/backup/lock";
import type { PlanRecord } from "@/server/backup/schedule/plans";
import { registerScheduleCommands } from "@/server/cli/schedules";
import { runCliInProcess, spawnCli } from "../helpers/cli";
import { writeFiles } from "../helpers/files";
import { createTestApp, makeTempDir, testEnv, type TestApp } from "../helpers/test-app";

/** The real entry point, with no web server running: one data folder shared by the runs in order. */
describe("the schedule CLI as a process", () => {
  let root: string;
  let env: Record<string, string>;
  beforeAll(() => {
    root = makeTempDir("baluhost-cli-schedule-");
    env = testEnv(root);
    writeFiles(env.NAS_STORAGE_PATH!, { "a.txt": "alpha\n" });
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it("adds a plan", async () => {
    const run = await spawnCli(["schedule", "add", "--name", "Nightly", "--type", "full", "--cron", "0 3 * * *", "--timezone", "UTC"], { env });
    expect(run.code).toBe(0);
    // The next run is printed in this machine's time zone.
    expect(run.stdout).toMatch(/^added plan 1: Nightly \(full, Daily at 03:00, "0 3 \* \* \*" UTC\); next run \d{4}-\d\d-\d\d \d\d:00:00\n$/);
  });

  it("runs it now, waits, verifies and prints the backup", async () => {
    const run = await spawnCli(["--json", "schedule", "run", "Nightly"], { env });
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as { ok: boolean; backup: { id: number; verify_status: string; origin: string } };
    expect(result).toMatchObject({ ok: true, backup: { id: 1, verify_status: "ok", origin: "manual" } });
  });

  it("lists it with its last result", async () => {
    const run = await spawnCli(["--json", "schedule", "list"], { env });
    expect(run.code).toBe(0);
    const { plans } = JSON.parse(run.stdout) as { plans: PlanRecord[] };
    expect(plans).toMatchObject([{ id: 1, name: "Nightly", last_result: "ok", last_backup_id: 1 }]);
  });
});

describe("schedule commands", () => {
  let app: TestApp;
  beforeEach(async () => {
    app = createTestApp();
    await app.ready;
    writeFiles(app.config.storagePath, { "a.txt": "alpha\n" });
  });
  afterEach(() => app.cleanup());

  const cli = (...args: string[]) => runCliInProcess(args, { groups: [registerScheduleCommands] });
  const plans = () => app.db.select().from(backupPlans).all();

  it("adds a plan with every option, audited as the CLI user", async () => {
    const run = await cli(
      "schedule", "add", "--name", "Hourly incr", "--type", "incremental", "--cron", "0 * * * *",
      "--timezone", "Europe/Berlin", "--config", "--full-every", "24", "--drill-cron", "0 5 * * 6", "--disabled",
    );
    expect(run.code).toBe(0);
    expect(plans()).toMatchObject([
      { name: "Hourly incr", backupType: "incremental", cron: "0 * * * *", timezone: "Europe/Berlin", includeConfig: true, fullEvery: 24, drillCron: "0 5 * * 6", enabled: false },
    ]);
    expect(run.stdout).toContain("next run – (disabled)");
    expect(listAudit(app.db, { action: "backup.plan_create" }).entries[0]!.actorName).toMatch(/^cli/);
  });

  it("adds a plan without drills with --no-drill", async () => {
    expect((await cli("schedule", "add", "--name", "N", "--type", "full", "--cron", "0 3 * * *", "--no-drill")).code).toBe(0);
    expect(plans()[0]!.drillCron).toBeNull();
  });

  it("refuses --drill-cron together with --no-drill", async () => {
    const run = await cli("schedule", "add", "--name", "N", "--type", "full", "--cron", "0 3 * * *", "--no-drill", "--drill-cron", "0 4 * * 0");
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("use either --drill-cron or --no-drill");
    expect(plans()).toEqual([]);
  });

  it("refuses a bad cron expression with exit code 1 and a message quoting it", async () => {
    const run = await cli("schedule", "add", "--name", "N", "--type", "full", "--cron", "3am daily");
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: "3am daily" is not a valid cron expression/);
    expect(plans()).toEqual([]);
  });

  it("lists plans as a table", async () => {
    await cli("schedule", "add", "--name", "Nightly", "--type", "full", "--cron", "0 3 * * *", "--timezone", "UTC");
    const run = await cli("schedule", "list");
    expect(run.code).toBe(0);
    const [header, row, total] = run.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^ID\s+NAME\s+TYPE\s+SCHEDULE\s+NEXT RUN\s+LAST RESULT$/);
    expect(row).toMatch(/^1\s+Nightly\s+full\s+Daily at 03:00, "0 3 \* \* \*" UTC\s+\d{4}-\d\d-\d\d \d\d:00:00\s+never ran$/);
    expect(total).toBe("1 plan");
  });

  it("prints JSON with --json after the command", async () => {
    await cli("schedule", "add", "--name", "Nightly", "--type", "full", "--cron", "0 3 * * *");
    const run = await cli("schedule", "list", "--json");
    expect((JSON.parse(run.stdout) as { plans: PlanRecord[] }).plans.map((p) => p.name)).toEqual(["Nightly"]);
  });

  it("says how to add a plan when there is none", async () => {
    expect((await cli("schedule", "list")).stdout).toMatch(/^no backup plans — add one with: .*schedule add/);
  });

  it("removes a plan by name", async () => {
    await cli("schedule", "add", "--name", "Nightly", "--type", "full", "--cron", "0 3 * * *");
    const run = await cli("schedule", "remove", "Nightly");
    expect(run).toMatchObject({ code: 0, stdout: "removed plan 1: Nightly\n" });
    expect(plans()).toEqual([]);
  });

  it("names the plan it did not find", async () => {
    const run = await cli("schedule", "remove", "Weekly");
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/no backup plan named "Weekly"/);
  });

  it("runs a plan by id and prints the verified backup", async () => {
    await cli("schedule", "add", "--name", "Nightly", "--type", "database_only", "--cron", "0 3 * * *");
    const run = await cli("schedule", "run", "1");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^plan Nightly: backup 1 backup_\d{8}_\d{6}\.tar\.gz \([\d.]+ [KM]iB, database_only\), verified\n$/);
    expect(app.db.select().from(backups).get()).toMatchObject({ verifyStatus: "ok", planName: "Nightly" });
  });

  it("exits 1 when the run cannot start because another operation holds the lock", async () => {
    await cli("schedule", "add", "--name", "Nightly", "--type", "full", "--cron", "0 3 * * *");
    const lock = acquireOperationLock(app.config.backupPath, "restore", "restore of backup 3 by admin");
    try {
      const run = await cli("schedule", "run", "Nightly");
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^error: .*restore/i);
    } finally {
      lock.release();
    }
    expect(app.db.select().from(backups).all()).toEqual([]);
  });

  it("exits 1 and prints the plan's error when the backup fails", async () => {
    await cli("schedule", "add", "--name", "Nightly", "--type", "full", "--cron", "0 3 * * *");
    // The backup's staging folder is taken by a file: the database snapshot cannot be written.
    fs.writeFileSync(stagingPath(app.config, 1), "in the way");
    const run = await cli("schedule", "run", "Nightly");
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: The backup of plan "Nightly" \(Run now\) failed: /);
    expect(plans()[0]).toMatchObject({ lastResult: "failed" });
  });
});
