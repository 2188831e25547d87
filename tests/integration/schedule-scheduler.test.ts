/**
 * The scheduler against a real app: real SQLite, real archives in a temp folder, the real
 * operation lock. Time is the test's: each scheduler reads an injected clock.
 */
import fs from "node:fs";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type AppDatabase } from "@/db/client";
import { backupPlans, backups, notificationChannels, notificationDeliveries, restoreDrills, type BackupPlanRow } from "@/db/schema";
import { listAudit, SYSTEM_ACTOR } from "@/server/audit";
import { archivePath, stagingPath } from "@/server/backup/catalog";
import { verifyBackup } from "@/server/backup/import";
import { acquireOperationLock } from "@/server/backup/lock";
import { createPlan, getPlanRow, updatePlan, type PlanInput } from "@/server/backup/schedule/plans";
import { startPlanBackup } from "@/server/backup/schedule/runs";
import { claimSlot } from "@/server/backup/schedule/slots";
import { BackupScheduler, nextRunAt, planDrillRunner, type BackupSchedulerOptions } from "@/server/backup/schedule/scheduler";
import { createBackup } from "@/server/backup/service";
import { AppError } from "@/server/errors";
import { writeFiles } from "../helpers/files";
import { createTestApp, type TestApp } from "../helpers/test-app";

const T0 = new Date("2030-01-01T00:00:00Z");
const at = (iso: string) => new Date(iso);

let app: TestApp;
let clock: Date;

beforeEach(async () => {
  app = createTestApp();
  await app.ready;
  writeFiles(app.config.storagePath, { "docs/a.txt": "alpha\n", "b.txt": "beta\n" });
  clock = T0;
});
afterEach(() => app.cleanup());

function plan(input: Partial<PlanInput> = {}, createdAt = T0): BackupPlanRow {
  return createPlan({
    db: app.db,
    config: app.config,
    actor: { id: app.admin.id, username: "admin" },
    now: createdAt,
    input: { name: "Nightly", backup_type: "full", cron: "0 3 * * *", timezone: "UTC", drill_cron: null, ...input },
  });
}

function scheduler(options: BackupSchedulerOptions = {}, db: () => AppDatabase = () => app.db): BackupScheduler {
  return new BackupScheduler({ db, config: () => app.config, now: () => clock, ...options });
}

const allBackups = () => app.db.select().from(backups).all();
const reread = (p: BackupPlanRow) => getPlanRow(app.db, p.id);

/** A webhook channel that wants failures, so announce() queues outbox rows. */
function addChannel(): void {
  app.db
    .insert(notificationChannels)
    .values({
      name: "ops",
      kind: "webhook",
      settings: { url: "http://127.0.0.1:9/hook" },
      events: ["backup_failed", "verify_failed"],
      updatedAt: new Date(),
    })
    .run();
}
const outbox = () => app.db.select().from(notificationDeliveries).all();

describe("due slots", () => {
  it("runs nothing before the first scheduled time", async () => {
    plan();
    clock = at("2030-01-01T02:59:59Z");
    const report = await scheduler().tick();
    expect(report).toEqual({ ran: [], waiting: [] });
    expect(allBackups()).toEqual([]);
  });

  it("runs a due slot once: a second tick in the same slot runs nothing", async () => {
    const p = plan();
    const s = scheduler();
    clock = at("2030-01-01T03:00:10Z");
    const first = await s.tick();
    expect(first.ran).toEqual([{ planId: p.id, kind: "backup", slot: at("2030-01-01T03:00:00Z"), ok: true }]);
    clock = at("2030-01-01T03:05:00Z");
    expect((await s.tick()).ran).toEqual([]);
    expect(allBackups()).toHaveLength(1);
  });

  it("makes a backup with origin scheduled, the plan's name, creator system, verified", async () => {
    const p = plan({ name: "Nightly full" });
    clock = at("2030-01-01T03:00:30Z");
    await scheduler().tick();
    const [row] = allBackups();
    expect(row).toMatchObject({
      status: "completed",
      backupType: "full",
      origin: "scheduled",
      planId: p.id,
      planName: "Nightly full",
      creatorId: null,
      creatorName: "system",
      verifyStatus: "ok",
    });
    expect(fs.existsSync(archivePath(app.config, row!))).toBe(true);
    expect(reread(p)).toMatchObject({
      lastSlotAt: at("2030-01-01T03:00:00Z"),
      lastRunAt: clock,
      lastBackupId: row!.id,
      lastResult: "ok",
      lastError: null,
    });
  });

  it("after a three-day downtime runs once, for the newest missed slot", async () => {
    const p = plan();
    clock = at("2030-01-04T12:00:00Z");
    const s = scheduler();
    const report = await s.tick();
    expect(report.ran.map((r) => r.slot)).toEqual([at("2030-01-04T03:00:00Z")]);
    expect(await s.tick()).toEqual({ ran: [], waiting: [] });
    expect(allBackups()).toHaveLength(1);
    expect(reread(p).lastSlotAt).toEqual(at("2030-01-04T03:00:00Z"));
  });

  it("never runs a disabled plan", async () => {
    plan({ enabled: false });
    clock = at("2030-01-01T03:00:10Z");
    expect((await scheduler().tick()).ran).toEqual([]);
    expect(allBackups()).toEqual([]);
  });

  it("does not run a slot of a new schedule that passed before the edit", async () => {
    const p = plan({ cron: "0 5 * * *" });
    // At 03:30 the admin moves the plan to 03:00: today's 03:00 was before the edit.
    updatePlan({ db: app.db, config: app.config, actor: SYSTEM_ACTOR, id: p.id, patch: { cron: "0 3 * * *" }, now: at("2030-01-01T03:30:00Z") });
    clock = at("2030-01-01T03:31:00Z");
    expect((await scheduler().tick()).ran).toEqual([]);
    clock = at("2030-01-02T03:00:05Z");
    expect((await scheduler().tick()).ran.map((r) => r.slot)).toEqual([at("2030-01-02T03:00:00Z")]);
  });

  it("does not catch up on the slots a plan missed while it was off", async () => {
    const p = plan({ enabled: false });
    updatePlan({ db: app.db, config: app.config, actor: SYSTEM_ACTOR, id: p.id, patch: { enabled: true }, now: at("2030-01-03T12:00:00Z") });
    clock = at("2030-01-03T12:01:00Z");
    expect((await scheduler().tick()).ran).toEqual([]);
  });

  it("keeps a waiting run when the plan is only renamed", async () => {
    const p = plan();
    const s = scheduler();
    const lock = acquireOperationLock(app.config.backupPath, "backup", "full backup by cli:root");
    clock = at("2030-01-01T03:00:10Z");
    expect((await s.tick()).waiting).toHaveLength(1);
    updatePlan({ db: app.db, config: app.config, actor: SYSTEM_ACTOR, id: p.id, patch: { name: "Nightly full" }, now: at("2030-01-01T03:05:00Z") });
    lock.release();
    clock = at("2030-01-01T03:06:00Z");
    expect((await s.tick()).ran.map((r) => r.slot)).toEqual([at("2030-01-01T03:00:00Z")]);
    expect(allBackups()[0]!.planName).toBe("Nightly full");
  });
});

describe("two schedulers on the same database", () => {
  it("run one slot once when they tick together (two handles to one file)", async () => {
    plan();
    const second = openDatabase(app.config.databasePath);
    try {
      clock = at("2030-01-01T03:00:10Z");
      const [a, b] = await Promise.all([scheduler().tick(), scheduler({}, () => second.db).tick()]);
      expect(a.ran.length + b.ran.length).toBe(1);
      expect(allBackups()).toHaveLength(1);
    } finally {
      second.sqlite.close();
    }
  });

  it("let only the first of two claims of one slot win, whichever handle makes it", () => {
    const p = plan();
    const second = openDatabase(app.config.databasePath);
    try {
      const slot = at("2030-01-01T03:00:00Z");
      expect(claimSlot(second.db, p.id, "backup", slot)).toBe(true);
      expect(claimSlot(app.db, p.id, "backup", slot)).toBe(false);
      expect(claimSlot(second.db, p.id, "backup", slot)).toBe(false);
      // A newer slot can be claimed again, an older one never.
      expect(claimSlot(app.db, p.id, "backup", at("2029-12-31T03:00:00Z"))).toBe(false);
      expect(claimSlot(app.db, p.id, "backup", at("2030-01-02T03:00:00Z"))).toBe(true);
    } finally {
      second.sqlite.close();
    }
  });

  it("run one slot once when one ticks after the other", async () => {
    plan();
    const second = openDatabase(app.config.databasePath);
    try {
      clock = at("2030-01-01T03:00:10Z");
      expect((await scheduler().tick()).ran).toHaveLength(1);
      expect((await scheduler({}, () => second.db).tick()).ran).toEqual([]);
      expect(allBackups()).toHaveLength(1);
    } finally {
      second.sqlite.close();
    }
  });
});

describe("another operation holding the lock", () => {
  it("makes a due run wait, unclaimed, and run once after the lock is free", async () => {
    const p = plan();
    const s = scheduler();
    const lock = acquireOperationLock(app.config.backupPath, "restore", "restore of backup 9 by admin");
    clock = at("2030-01-01T03:00:10Z");
    const blocked = await s.tick();
    expect(blocked).toEqual({ ran: [], waiting: [{ planId: p.id, kind: "backup", slot: at("2030-01-01T03:00:00Z") }] });
    expect(reread(p).lastSlotAt).toBeNull();
    expect(allBackups()).toEqual([]);
    // While waiting, the plan's next run is the slot it waits for.
    expect(nextRunAt(reread(p), clock)).toEqual(at("2030-01-01T03:00:00Z"));
    lock.release();
    clock = at("2030-01-01T03:10:00Z");
    expect((await s.tick()).ran.map((r) => r.slot)).toEqual([at("2030-01-01T03:00:00Z")]);
    expect((await s.tick()).ran).toEqual([]);
    expect(allBackups()).toHaveLength(1);
  });

  it("still blocked when the next slot comes, runs once (the newest slot), not twice", async () => {
    plan({ cron: "0 * * * *" });
    const s = scheduler();
    const lock = acquireOperationLock(app.config.backupPath, "backup", "full backup by cli:root");
    clock = at("2030-01-01T01:00:30Z");
    expect((await s.tick()).waiting).toHaveLength(1);
    clock = at("2030-01-01T02:00:30Z");
    expect((await s.tick()).waiting.map((w) => w.slot)).toEqual([at("2030-01-01T02:00:00Z")]);
    lock.release();
    clock = at("2030-01-01T02:01:00Z");
    expect((await s.tick()).ran.map((r) => r.slot)).toEqual([at("2030-01-01T02:00:00Z")]);
    expect((await s.tick()).ran).toEqual([]);
    expect(allBackups()).toHaveLength(1);
  });

  it("gives a claimed slot back when the lock is taken between the check and the start, and runs it at the next tick", async () => {
    const p = plan();
    let calls = 0;
    const s = scheduler({
      runBackup: async (planRow) => {
        calls += 1;
        if (calls === 1) throw new AppError("OPERATION_IN_PROGRESS", "Another backup or restore is in progress.");
        return createBackup({ db: app.db, config: app.config, actor: SYSTEM_ACTOR, input: { backup_type: planRow.backupType, wait: true } });
      },
    });
    clock = at("2030-01-01T03:00:10Z");
    expect((await s.tick()).waiting).toHaveLength(1);
    expect(reread(p)).toMatchObject({ lastSlotAt: null, lastResult: null });
    expect(listAudit(app.db, { action: "backup.scheduled_run" }).total).toBe(0);
    expect((await s.tick()).ran).toHaveLength(1);
    expect(calls).toBe(2);
  });
});

describe("full_every", () => {
  it("makes every third run of an incremental plan a full backup", async () => {
    const p = plan({ backup_type: "incremental", full_every: 3, cron: "0 * * * *" });
    const s = scheduler();
    const types: string[] = [];
    for (let hour = 1; hour <= 6; hour++) {
      writeFiles(app.config.storagePath, { [`hour-${hour}.txt`]: `${hour}\n` });
      clock = at(`2030-01-01T0${hour}:00:05Z`);
      const report = await s.tick();
      expect(report.ran).toHaveLength(1);
      types.push(getBackupType(reread(p).lastBackupId!));
    }
    // The first has nothing to build on, so it is full anyway; then two incrementals and a full, again.
    expect(types).toEqual(["full", "incremental", "incremental", "full", "incremental", "incremental"]);
  });

  it("does not count a failed run towards the next full backup", async () => {
    const p = plan({ backup_type: "incremental", full_every: 2, cron: "0 * * * *" });
    let fail = false;
    const s = scheduler({
      runBackup: async (planRow) => {
        if (fail) throw new AppError("INSUFFICIENT_SPACE", "Not enough free space on the backup volume.");
        return (await startPlanBackup({ db: app.db, config: app.config, actor: SYSTEM_ACTOR, plan: planRow, origin: "scheduled" })).finished;
      },
    });
    clock = at("2030-01-01T01:00:05Z");
    await s.tick(); // full (nothing to build on)
    clock = at("2030-01-01T02:00:05Z");
    await s.tick(); // incremental: runs_since_full 1
    expect(reread(p).runsSinceFull).toBe(1);
    fail = true;
    clock = at("2030-01-01T03:00:05Z");
    expect((await s.tick()).ran[0]!.ok).toBe(false);
    expect(reread(p).runsSinceFull).toBe(1);
    fail = false;
    clock = at("2030-01-01T04:00:05Z");
    await s.tick();
    expect(getBackupType(reread(p).lastBackupId!)).toBe("full");
  });
});

function getBackupType(id: number): string {
  return app.db.select().from(backups).where(eq(backups.id, id)).get()!.backupType;
}

describe("failures", () => {
  it("records, audits and announces a run refused before it started", async () => {
    addChannel();
    const p = plan();
    const s = scheduler({
      runBackup: async () => {
        throw new AppError("INSUFFICIENT_SPACE", "Not enough free space on the backup volume: this backup needs about 2 GiB, 1 GiB is free.");
      },
    });
    clock = at("2030-01-01T03:00:10Z");
    expect((await s.tick()).ran).toEqual([{ planId: p.id, kind: "backup", slot: at("2030-01-01T03:00:00Z"), ok: false }]);
    const after = reread(p);
    expect(after).toMatchObject({ lastResult: "failed", lastBackupId: null, lastRunAt: clock });
    expect(after.lastError).toBe(
      'The scheduled backup of plan "Nightly" did not start: Not enough free space on the backup volume: this backup needs about 2 GiB, 1 GiB is free.',
    );
    const audit = listAudit(app.db, { action: "backup.scheduled_run" }).entries;
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actorName: "system", success: false, resource: `plan:${p.id}`, errorMessage: after.lastError });
    const [delivery, ...more] = outbox();
    expect(more).toEqual([]);
    expect(delivery).toMatchObject({ event: "backup_failed", status: "pending" });
    expect(delivery!.payload).toMatchObject({ title: 'Scheduled backup "Nightly" did not start', planName: "Nightly" });
    expect(String(delivery!.payload.message)).toContain("due at 2030-01-01T03:00:00.000Z");
    expect(String(delivery!.payload.action)).toContain('schedule run "Nightly"');
    // A slot that failed is used up: the plan runs again at its next slot, not at every tick.
    expect((await s.tick()).ran).toEqual([]);
  });

  it("records a backup that failed while it ran, announced once (by the backup service)", async () => {
    addChannel();
    const p = plan();
    // The next backup's staging folder is taken by a file: its database snapshot cannot be written.
    fs.writeFileSync(stagingPath(app.config, 1), "in the way");
    clock = at("2030-01-01T03:00:10Z");
    expect((await scheduler().tick()).ran[0]!.ok).toBe(false);
    const [row] = allBackups();
    expect(row).toMatchObject({ status: "failed", planName: "Nightly", origin: "scheduled" });
    expect(reread(p)).toMatchObject({ lastResult: "failed", lastBackupId: row!.id });
    expect(reread(p).lastError).toMatch(/^The scheduled backup of plan "Nightly" failed: /);
    expect(listAudit(app.db, { action: "backup.scheduled_run" }).total).toBe(1);
    expect(outbox().map((d) => d.event)).toEqual(["backup_failed"]);
  });

  it("records, audits and announces a backup that failed verification", async () => {
    addChannel();
    const p = plan();
    const s = scheduler({
      // The backup is made for real, then its archive is damaged on disk before it is verified.
      runBackup: async (planRow) => {
        const row = await createBackup({
          db: app.db,
          config: app.config,
          actor: SYSTEM_ACTOR,
          origin: "scheduled",
          scheduledBy: { planId: planRow.id, planName: planRow.name },
          input: { backup_type: "full", wait: true },
        });
        const file = archivePath(app.config, row);
        fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2));
        return verifyBackup({ db: app.db, config: app.config, actor: SYSTEM_ACTOR, id: row.id });
      },
    });
    clock = at("2030-01-01T03:00:10Z");
    expect((await s.tick()).ran[0]!.ok).toBe(false);
    const [row] = allBackups();
    expect(row).toMatchObject({ status: "completed", verifyStatus: "failed" });
    expect(reread(p).lastError).toMatch(/wrote backup_\d{8}_\d{6}\.tar\.gz, but it failed verification: .*marked Damaged/);
    expect(listAudit(app.db, { action: "backup.scheduled_run" }).entries[0]).toMatchObject({ success: false, actorName: "system" });
    const deliveries = outbox();
    expect(deliveries.map((d) => d.event)).toEqual(["verify_failed"]);
    expect(deliveries[0]!.payload).toMatchObject({ backupId: row!.id, planName: "Nightly" });
  });

  it("writes no outbox row when no channel is set up, and still records the failure", async () => {
    const p = plan();
    const s = scheduler({
      runBackup: async () => {
        throw new AppError("BAD_REQUEST", "The backup folder is not usable.");
      },
    });
    clock = at("2030-01-01T03:00:10Z");
    await s.tick();
    expect(outbox()).toEqual([]);
    expect(reread(p).lastResult).toBe("failed");
  });
});

describe("restore drills", () => {
  it("claims drill slots like backup slots and calls runDrill once per slot", async () => {
    const p = plan({ cron: "0 3 * * *", drill_cron: "0 4 * * 0" });
    const drills: Array<[number, string]> = [];
    const s = scheduler({ runDrill: async (planRow, slot) => void drills.push([planRow.id, slot.toISOString()]) });
    // 2030-01-06 is a Sunday.
    clock = at("2030-01-06T04:00:05Z");
    const report = await s.tick();
    expect(report.ran.map((r) => r.kind)).toEqual(["backup", "drill"]);
    expect(await s.tick()).toEqual({ ran: [], waiting: [] });
    expect(drills).toEqual([[p.id, "2030-01-06T04:00:00.000Z"]]);
    expect(reread(p).lastDrillSlotAt).toEqual(at("2030-01-06T04:00:00Z"));
  });

  it("runs the restore drill engine on the plan's newest backup, by system", async () => {
    const p = plan({ drill_cron: "0 4 * * 0" });
    const s = scheduler({ runDrill: planDrillRunner(() => app.db, () => app.config) });
    // 2030-01-06 is a Sunday: the 03:00 backup, then the 04:00 drill of it.
    clock = at("2030-01-06T03:00:05Z");
    await s.tick();
    clock = at("2030-01-06T04:00:05Z");
    expect((await s.tick()).ran).toEqual([{ planId: p.id, kind: "drill", slot: at("2030-01-06T04:00:00Z"), ok: true }]);
    const [backup] = allBackups();
    expect(app.db.select().from(restoreDrills).all()).toMatchObject([{ planId: p.id, backupId: backup!.id, actorName: "system", status: "passed" }]);
  });

  it("leaves drill slots unclaimed when no drill runner is given", async () => {
    const p = plan({ drill_cron: "0 4 * * 0" });
    clock = at("2030-01-06T04:00:05Z");
    await scheduler().tick();
    expect(reread(p).lastDrillSlotAt).toBeNull();
  });

  it("gives a drill slot back when the drill finds the lock held", async () => {
    const p = plan({ cron: "0 3 1 1 *", drill_cron: "0 4 * * 0" });
    let calls = 0;
    const s = scheduler({
      runDrill: async () => {
        calls += 1;
        if (calls === 1) throw new AppError("OPERATION_IN_PROGRESS", "busy");
      },
    });
    clock = at("2030-01-06T04:00:05Z");
    app.db.update(backupPlans).set({ lastSlotAt: at("2030-01-01T03:00:00Z") }).where(eq(backupPlans.id, p.id)).run();
    expect((await s.tick()).waiting).toEqual([{ planId: p.id, kind: "drill", slot: at("2030-01-06T04:00:00Z") }]);
    expect(reread(p).lastDrillSlotAt).toBeNull();
    expect((await s.tick()).ran).toEqual([{ planId: p.id, kind: "drill", slot: at("2030-01-06T04:00:00Z"), ok: true }]);
  });
});

describe("nextRunAt", () => {
  it("is the next scheduled time in the plan's time zone", () => {
    const p = plan({ timezone: "Europe/Berlin" });
    // 03:00 in Berlin (UTC+1 in winter).
    expect(nextRunAt(p, at("2030-01-01T01:00:00Z"))).toEqual(at("2030-01-01T02:00:00Z"));
    app.db.update(backupPlans).set({ lastSlotAt: at("2030-01-01T02:00:00Z") }).where(eq(backupPlans.id, p.id)).run();
    expect(nextRunAt(reread(p), at("2030-01-01T12:00:00Z"))).toEqual(at("2030-01-02T02:00:00Z"));
  });

  it("is null for a disabled plan", () => {
    expect(nextRunAt(plan({ enabled: false }), at("2030-01-01T12:00:00Z"))).toBeNull();
  });
});
