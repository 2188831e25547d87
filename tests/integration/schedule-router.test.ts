/** The schedule router through createCaller on a real app: plans, preview, Run now, access control. */
import { TRPCError } from "@trpc/server";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { auditLog, backupPlans, backups } from "@/db/schema";
import { listAudit } from "@/server/audit";
import { acquireOperationLock } from "@/server/backup/lock";
import { planRunsSettled } from "@/server/backup/schedule/runs";
import { serverTimezone } from "@/server/backup/schedule/cron";
import { writeFiles } from "../helpers/files";
import { createTestApp, type TestApp } from "../helpers/test-app";

let app: TestApp;
beforeEach(async () => {
  app = createTestApp();
  await app.ready;
  writeFiles(app.config.storagePath, { "a.txt": "alpha\n" });
});
afterEach(async () => {
  await planRunsSettled();
  await app.cleanup();
});

const admin = () => app.caller(app.admin).schedule;
const nightly = { name: "Nightly", backup_type: "full" as const, cron: "0 3 * * *", timezone: "Europe/Berlin" };

async function rejection(promise: Promise<unknown>): Promise<TRPCError> {
  const err = await promise.then(
    () => {
      throw new Error("expected the call to be refused");
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TRPCError);
  return err as TRPCError;
}

describe("creating plans", () => {
  it("creates a plan with the defaults: enabled, weekly drill, no config", async () => {
    const plan = await admin().create(nightly);
    expect(plan).toMatchObject({
      name: "Nightly",
      enabled: true,
      backup_type: "full",
      include_config: false,
      cron: "0 3 * * *",
      timezone: "Europe/Berlin",
      schedule_text: "Daily at 03:00",
      drill_cron: "0 4 * * 0",
      full_every: null,
      last_result: null,
      recent_backups: [],
    });
    expect(Date.parse(plan.next_run_at!)).toBeGreaterThan(Date.now());
  });

  it("reads the cron in the server's time zone when none is given", async () => {
    const plan = await admin().create({ name: "Local", backup_type: "full", cron: "0 3 * * *" });
    expect(plan.timezone).toBe(serverTimezone());
  });

  it("audits the creation with the admin as actor", async () => {
    const plan = await admin().create(nightly);
    const [entry] = listAudit(app.db, { action: "backup.plan_create" }).entries;
    expect(entry).toMatchObject({ actorName: "admin", actorId: app.admin.id, success: true, resource: `plan:${plan.id}` });
    expect(entry!.details).toMatchObject({ name: "Nightly", cron: "0 3 * * *", timezone: "Europe/Berlin" });
  });

  it("refuses a bad cron expression with a 400 that quotes it, on the cron field", async () => {
    const err = await rejection(admin().create({ ...nightly, cron: "0 25 * * *" }));
    expect(err.code).toBe("BAD_REQUEST");
    expect(fieldErrorsOf(err).cron?.[0]).toMatch(/^"0 25 \* \* \*" is not a valid cron expression .*"0 3 \* \* \*"/);
    expect(app.db.select().from(backupPlans).all()).toEqual([]);
  });

  it("refuses an unknown time zone on the timezone field", async () => {
    const err = await rejection(admin().create({ ...nightly, timezone: "Europe/Atlantis" }));
    expect(fieldErrorsOf(err).timezone?.[0]).toMatch(/"Europe\/Atlantis" is not a time zone/);
  });

  it("refuses full_every on a plan that is not incremental", async () => {
    const err = await rejection(admin().create({ ...nightly, full_every: 7 }));
    expect(fieldErrorsOf(err).full_every?.[0]).toMatch(/only applies to incremental plans/);
  });

  it("refuses a name over 80 characters", async () => {
    const err = await rejection(admin().create({ ...nightly, name: "x".repeat(81) }));
    expect(fieldErrorsOf(err).name?.[0]).toBe("A plan name has at most 80 characters");
  });

  it("refuses a second plan with the same name in other letter case", async () => {
    await admin().create(nightly);
    const err = await rejection(admin().create({ ...nightly, name: "NIGHTLY" }));
    expect(err.code).toBe("CONFLICT");
    expect(err.message).toMatch(/A backup plan named "Nightly" already exists/);
  });

  it("stores the time zone under its canonical name", async () => {
    expect((await admin().create({ ...nightly, timezone: "europe/berlin" })).timezone).toBe("Europe/Berlin");
  });
});

/** zod's field errors of a refused input, as the UI reads them. */
function fieldErrorsOf(err: TRPCError): Record<string, string[] | undefined> {
  const cause = err.cause as { issues?: Array<{ path: PropertyKey[]; message: string }> } | undefined;
  const out: Record<string, string[]> = {};
  for (const issue of cause?.issues ?? []) (out[String(issue.path[0])] ??= []).push(issue.message);
  return out;
}

describe("changing plans", () => {
  it("updates fields and audits what changed", async () => {
    const plan = await admin().create({ ...nightly, backup_type: "incremental", full_every: 7 });
    const updated = await admin().update({ id: plan.id, cron: "0 */6 * * *", include_config: true });
    expect(updated).toMatchObject({ cron: "0 */6 * * *", include_config: true, schedule_text: "Every 6 hours at :00", full_every: 7 });
    const [entry] = listAudit(app.db, { action: "backup.plan_update" }).entries;
    expect(entry).toMatchObject({ actorName: "admin", success: true });
    expect(entry!.details).toEqual({
      name: "Nightly",
      changes: { cron: { from: "0 3 * * *", to: "0 */6 * * *" }, includeConfig: { from: false, to: true } },
    });
  });

  it("drops full_every when the plan stops being incremental", async () => {
    const plan = await admin().create({ ...nightly, backup_type: "incremental", full_every: 7 });
    expect(await admin().update({ id: plan.id, backup_type: "full" })).toMatchObject({ backup_type: "full", full_every: null });
  });

  it("checks a change against the whole plan", async () => {
    const plan = await admin().create(nightly);
    const err = await rejection(admin().update({ id: plan.id, drill_cron: "every sunday" }));
    expect(err.code).toBe("BAD_REQUEST");
    expect(err.message).toMatch(/^Restore drill schedule: "every sunday" is not a valid cron expression/);
  });

  it("switches a plan off: no next run, audited", async () => {
    const plan = await admin().create(nightly);
    const off = await admin().setEnabled({ id: plan.id, enabled: false });
    expect(off).toMatchObject({ enabled: false, next_run_at: null, next_drill_at: null });
    expect(listAudit(app.db, { action: "backup.plan_update" }).entries[0]!.details).toMatchObject({ changes: { enabled: { from: true, to: false } } });
  });

  it("names the id it did not find", async () => {
    const err = await rejection(admin().update({ id: 42, enabled: false }));
    expect(err.code).toBe("NOT_FOUND");
    expect(err.message).toMatch(/no backup plan 42/);
  });

  it("removes a plan, audited, and its backups keep the plan's name", async () => {
    const plan = await admin().create(nightly);
    await admin().runNow({ id: plan.id });
    await planRunsSettled();
    expect(await admin().remove({ id: plan.id })).toEqual({ success: true, id: plan.id });
    expect((await admin().list()).plans).toEqual([]);
    expect(listAudit(app.db, { action: "backup.plan_delete" }).entries[0]).toMatchObject({ actorName: "admin", resource: `plan:${plan.id}` });
    expect(app.db.select().from(backups).all()).toMatchObject([{ planId: plan.id, planName: "Nightly", status: "completed" }]);
  });
});

describe("preview", () => {
  it("lists the next five runs", async () => {
    const preview = await admin().preview({ cron: "0 * * * *", timezone: "UTC" });
    expect(preview.error).toBeNull();
    expect(preview.schedule_text).toBe("Every hour");
    expect(preview.runs).toHaveLength(5);
    const times = preview.runs.map(Date.parse);
    expect(times.every((t, i) => i === 0 || t - times[i - 1]! === 3600_000)).toBe(true);
  });

  it("answers a bad expression with a readable error instead of failing", async () => {
    expect(await admin().preview({ cron: "0 3 * *", timezone: "UTC" })).toEqual({
      runs: [],
      schedule_text: null,
      error: expect.stringMatching(/^"0 3 \* \*" is not a valid cron expression/),
    });
  });

  it("answers a bad time zone with a readable error", async () => {
    expect((await admin().preview({ cron: "0 3 * * *", timezone: "Moon/Base" })).error).toMatch(/"Moon\/Base" is not a time zone/);
  });
});

describe("Run now", () => {
  it("starts the plan's backup by the admin, verifies it and records it on the plan", async () => {
    const plan = await admin().create(nightly);
    const started = await admin().runNow({ id: plan.id });
    expect(started).toMatchObject({ backup_type: "full", creator_name: "admin" });
    await planRunsSettled();
    const [listed] = (await admin().list()).plans;
    expect(listed).toMatchObject({ last_result: "ok", last_backup_id: started.id, last_error: null, last_slot_at: null });
    expect(listed!.recent_backups).toEqual([expect.objectContaining({ id: started.id, status: "completed", verify_status: "ok" })]);
    expect(listAudit(app.db, { action: "backup.plan_run" }).entries[0]).toMatchObject({ actorName: "admin", success: true });
  });

  it("refuses with CONFLICT while another operation holds the lock, and uses up nothing", async () => {
    const plan = await admin().create(nightly);
    const lock = acquireOperationLock(app.config.backupPath, "backup", "full backup by cli:root");
    try {
      const err = await rejection(admin().runNow({ id: plan.id }));
      expect(err.code).toBe("CONFLICT");
      expect(err.message).toMatch(/Another backup or restore is in progress/);
    } finally {
      lock.release();
    }
    expect(app.db.select().from(backups).all()).toEqual([]);
    expect((await admin().list()).plans[0]).toMatchObject({ last_slot_at: null, last_result: null });
  });
});

describe("access", () => {
  it("refuses a normal user every procedure with FORBIDDEN, and changes nothing", async () => {
    const plan = await admin().create(nightly);
    const auditBefore = app.db.select().from(auditLog).all().length;
    const plansBefore = app.db.select().from(backupPlans).all();
    const user = app.caller(app.user).schedule;
    for (const call of [
      () => user.list(),
      () => user.get({ id: plan.id }),
      () => user.preview({ cron: "0 3 * * *", timezone: "UTC" }),
      () => user.create({ ...nightly, name: "Mine" }),
      () => user.update({ id: plan.id, cron: "0 4 * * *" }),
      () => user.setEnabled({ id: plan.id, enabled: false }),
      () => user.remove({ id: plan.id }),
      () => user.runNow({ id: plan.id }),
    ]) {
      expect((await rejection(call())).code).toBe("FORBIDDEN");
    }
    expect(app.db.select().from(backupPlans).all()).toEqual(plansBefore);
    expect(app.db.select().from(backups).all()).toEqual([]);
    expect(app.db.select().from(auditLog).all()).toHaveLength(auditBefore);
  });

  it("refuses an anonymous caller with UNAUTHORIZED", async () => {
    expect((await rejection(app.caller(null).schedule.list())).code).toBe("UNAUTHORIZED");
  });
});
