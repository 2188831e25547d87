/** Automatic backups from BACKUP_AUTO_*: one plan seeded on the first start, never again. */
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { backupPlans, settings } from "@/db/schema";
import { listAudit } from "@/server/audit";
import { AUTO_PLAN_NAME, AUTO_PLAN_SEEDED_KEY, seedAutoPlan } from "@/server/backup/schedule/auto-plan";
import { createPlan, deletePlan, updatePlan } from "@/server/backup/schedule/plans";
import { startBackupScheduler, stopBackupScheduler } from "@/server/backup/schedule/scheduler";
import { ConfigError } from "@/server/config";
import { createTestApp, type TestApp } from "../helpers/test-app";

const ENABLED = { BACKUP_AUTO_ENABLED: "true", BACKUP_AUTO_INTERVAL_HOURS: "6", BACKUP_AUTO_TYPE: "incremental" };

let app: TestApp;
beforeEach(async () => {
  app = createTestApp();
  await app.ready;
});
afterEach(async () => {
  stopBackupScheduler();
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  await app.cleanup();
});

const plans = () => app.db.select().from(backupPlans).all();
const adminActor = () => ({ id: app.admin.id, username: "admin" });

describe("seeding the automatic plan", () => {
  it("creates one plan from the environment on the first start, audited by system", () => {
    const created = seedAutoPlan({ db: app.db, env: ENABLED });
    expect(created).toMatchObject({ name: AUTO_PLAN_NAME, backupType: "incremental", cron: "0 */6 * * *", fullEvery: 7, enabled: true });
    expect(plans()).toHaveLength(1);
    const [entry] = listAudit(app.db, { action: "backup.plan_create" }).entries;
    expect(entry).toMatchObject({ actorName: "system", actorId: null, success: true, resource: `plan:${created!.id}` });
  });

  it("uses the real BaluHost's defaults: every 24 hours, full", () => {
    expect(seedAutoPlan({ db: app.db, env: { BACKUP_AUTO_ENABLED: "true" } })).toMatchObject({ backupType: "full", cron: "0 0 * * *", fullEvery: null });
  });

  it("does not create a second plan at the next start", () => {
    seedAutoPlan({ db: app.db, env: ENABLED });
    expect(seedAutoPlan({ db: app.db, env: ENABLED })).toBeNull();
    expect(plans()).toHaveLength(1);
  });

  it("never brings the plan back after the admin deleted it", () => {
    const created = seedAutoPlan({ db: app.db, env: ENABLED })!;
    deletePlan({ db: app.db, config: app.config, actor: adminActor(), id: created.id });
    expect(seedAutoPlan({ db: app.db, env: ENABLED })).toBeNull();
    expect(plans()).toEqual([]);
  });

  it("leaves the admin's edits alone at the next start", () => {
    const created = seedAutoPlan({ db: app.db, env: ENABLED })!;
    updatePlan({ db: app.db, config: app.config, actor: adminActor(), id: created.id, patch: { cron: "30 1 * * *" } });
    seedAutoPlan({ db: app.db, env: { ...ENABLED, BACKUP_AUTO_INTERVAL_HOURS: "12" } });
    expect(plans()).toMatchObject([{ id: created.id, cron: "30 1 * * *" }]);
  });

  it("creates nothing, and remembers nothing, while automatic backups are off", () => {
    expect(seedAutoPlan({ db: app.db, env: { BACKUP_AUTO_ENABLED: "false" } })).toBeNull();
    expect(app.db.select().from(settings).where(eq(settings.key, AUTO_PLAN_SEEDED_KEY)).get()).toBeUndefined();
    // Switched on later, the first start with it on seeds.
    expect(seedAutoPlan({ db: app.db, env: ENABLED })).not.toBeNull();
  });

  it("adds nothing when the admin already has plans, and not later either", () => {
    const mine = createPlan({ db: app.db, config: app.config, actor: adminActor(), input: { name: "Mine", backup_type: "full", cron: "0 2 * * *", timezone: "UTC" } });
    expect(seedAutoPlan({ db: app.db, env: ENABLED })).toBeNull();
    deletePlan({ db: app.db, config: app.config, actor: adminActor(), id: mine.id });
    expect(seedAutoPlan({ db: app.db, env: ENABLED })).toBeNull();
    expect(plans()).toEqual([]);
  });

  it("says in the log when the interval had to be rounded to a schedule cron can express", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    expect(seedAutoPlan({ db: app.db, env: { ...ENABLED, BACKUP_AUTO_INTERVAL_HOURS: "5" } })).toMatchObject({ cron: "0 */4 * * *" });
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/BACKUP_AUTO_INTERVAL_HOURS=5 .*every 4 hours instead/));
  });
});

describe("starting the scheduler", () => {
  it("refuses to start with a bad BACKUP_AUTO_* value, naming the variable", () => {
    vi.stubEnv("BACKUP_AUTO_ENABLED", "true");
    vi.stubEnv("BACKUP_AUTO_INTERVAL_HOURS", "0");
    expect(() => startBackupScheduler({ db: () => app.db, config: () => app.config })).toThrow(ConfigError);
    expect(() => startBackupScheduler({ db: () => app.db, config: () => app.config })).toThrow(/BACKUP_AUTO_INTERVAL_HOURS must be at least 1/);
    expect(plans()).toEqual([]);
  });

  it("seeds the plan and returns the same scheduler when started twice", () => {
    vi.stubEnv("BACKUP_AUTO_ENABLED", "true");
    const first = startBackupScheduler({ db: () => app.db, config: () => app.config });
    expect(startBackupScheduler({ db: () => app.db, config: () => app.config })).toBe(first);
    expect(plans()).toMatchObject([{ name: AUTO_PLAN_NAME }]);
  });
});
