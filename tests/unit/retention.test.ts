import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { auditLog, backups, type Backup } from "@/db/schema";
import { applyRetention, planRetention } from "@/server/backup/retention";
import { saveRetentionSettings } from "@/server/backup/settings";
import { createTestApp, type TestApp } from "../helpers/test-app";

const DAY = 24 * 60 * 60 * 1000;
const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);

function row(id: number, ageDays: number, extra: Partial<Backup> = {}): Backup {
  return {
    id,
    filename: `backup_2026_${id}.tar.gz`,
    filepath: "",
    archiveDir: "",
    sizeBytes: 1,
    backupType: "full",
    status: "completed",
    origin: "manual",
    createdAt: new Date(NOW - ageDays * DAY),
    completedAt: new Date(NOW - ageDays * DAY),
    creatorId: 1,
    creatorName: "admin",
    errorMessage: null,
    includesDatabase: true,
    includesFiles: true,
    includesConfig: false,
    parentId: null,
    fileCount: 0,
    sha256: null,
    verifiedAt: null,
    verifyStatus: null,
    verifyError: null,
    fileList: true,
    foreignDatabase: false,
    errorCode: null,
    isProtected: false,
    planId: null,
    planName: null,
    encryption: null,
    encryptionRecipients: null,
    encryptionKeyId: null,
    verifyScope: null,
    importedAt: null,
    ...extra,
  };
}

const ids = (rows: Backup[]) => rows.map((r) => r.id).sort((a, b) => a - b);

describe("planning retention", () => {
  it("keeps at most max count backups, deleting the oldest first", () => {
    const rows = [row(1, 5), row(2, 4), row(3, 3), row(4, 2), row(5, 1)];
    expect(ids(planRetention(rows, { maxCount: 3, retentionDays: 30 }, NOW).remove)).toEqual([1, 2]);
  });

  it("deletes backups older than the retention period", () => {
    const rows = [row(1, 40), row(2, 31), row(3, 10)];
    expect(ids(planRetention(rows, { maxCount: 10, retentionDays: 30 }, NOW).remove)).toEqual([1, 2]);
  });

  it("never deletes the newest completed backup, however old", () => {
    const rows = [row(1, 400), row(2, 300)];
    expect(ids(planRetention(rows, { maxCount: 10, retentionDays: 30 }, NOW).keep)).toEqual([2]);
  });

  it("keeps every backup a kept incremental builds on", () => {
    const rows = [
      row(1, 10),
      row(2, 9, { backupType: "incremental", parentId: 1 }),
      row(3, 8, { backupType: "incremental", parentId: 2 }),
      row(4, 7),
    ];
    const plan = planRetention(rows, { maxCount: 1, retentionDays: 30 }, NOW);
    expect(ids(plan.remove)).toEqual([1, 2, 3]);
    const chain = planRetention([...rows, row(5, 1, { backupType: "incremental", parentId: 3 })], { maxCount: 1, retentionDays: 30 }, NOW);
    expect(ids(chain.keep)).toEqual([1, 2, 3, 5]);
    expect(ids(chain.remove)).toEqual([4]);
  });

  it("never touches a backup in progress", () => {
    const rows = [row(1, 100, { status: "in_progress" }), row(2, 1), row(3, 2)];
    const plan = planRetention(rows, { maxCount: 1, retentionDays: 30 }, NOW);
    expect(ids(plan.keep)).toEqual([1, 2]);
    expect(ids(plan.remove)).toEqual([3]);
  });

  it("keeps a protected backup whatever its age and however many are newer", () => {
    const rows = [row(1, 400, { isProtected: true }), row(2, 3), row(3, 2), row(4, 1)];
    expect(ids(planRetention(rows, { maxCount: 1, retentionDays: 30 }, NOW).remove)).toEqual([2, 3]);
  });

  it("keeps the chain a protected incremental needs", () => {
    const rows = [row(1, 50), row(2, 40, { backupType: "incremental", parentId: 1, isProtected: true }), row(3, 1)];
    expect(ids(planRetention(rows, { maxCount: 1, retentionDays: 30 }, NOW).keep)).toEqual([1, 2, 3]);
  });

  it("keeps the newest backup of each of the last N days with keep daily", () => {
    // Two backups a day for five days; max count 1 alone would keep only the newest.
    const rows = [1, 2, 3, 4, 5].flatMap((day) => [row(day * 10, day), row(day * 10 + 1, day - 0.25)]);
    const plan = planRetention(rows, { maxCount: 1, retentionDays: 30, keepDaily: 3 }, NOW);
    // Newest first: day 1 (ids 11 then 10), day 2, day 3: the newest of each day is the one made later (id x1).
    expect(ids(plan.keep)).toEqual([11, 21, 31]);
  });

  it("keeps the newest backup of each of the last N ISO weeks and months", () => {
    const rows = [row(1, 1), row(2, 8), row(3, 15), row(4, 40), row(5, 70), row(6, 100)];
    const weekly = planRetention(rows, { maxCount: 1, retentionDays: 30, keepWeekly: 3 }, NOW);
    expect(ids(weekly.keep)).toEqual([1, 2, 3]);
    const monthly = planRetention(rows, { maxCount: 1, retentionDays: 30, keepMonthly: 4 }, NOW);
    // 26 Nov 2026 minus 1/8/15 days is November, 40 days October, 70 September, 100 August.
    expect(ids(monthly.keep)).toEqual([1, 4, 5, 6]);
  });

  it("counts the periods that have backups, so a pause in backups does not empty the daily set", () => {
    const rows = [row(1, 100), row(2, 101), row(3, 102), row(4, 103)];
    expect(ids(planRetention(rows, { maxCount: 1, retentionDays: 30, keepDaily: 3 }, NOW).keep)).toEqual([1, 2, 3]);
  });

  it("keeps the newest backup that is not damaged besides the newest one", () => {
    const rows = [row(1, 5), row(2, 2), row(3, 1, { verifyStatus: "failed" })];
    expect(ids(planRetention(rows, { maxCount: 1, retentionDays: 30 }, NOW).keep)).toEqual([2, 3]);
  });

  it("measures an uploaded backup's age from when it arrived, not from when the archive was made", () => {
    const rows = [row(1, 200, { origin: "uploaded", importedAt: new Date(NOW - DAY) }), row(2, 2), row(3, 40)];
    expect(ids(planRetention(rows, { maxCount: 10, retentionDays: 30 }, NOW).remove)).toEqual([3]);
  });

  it("removes failed rows only once they are past the retention period", () => {
    const rows = [row(1, 1), row(2, 2, { status: "failed" }), row(3, 45, { status: "failed" })];
    expect(ids(planRetention(rows, { maxCount: 1, retentionDays: 30 }, NOW).remove)).toEqual([3]);
  });
});

describe("applying retention", () => {
  let app: TestApp;
  afterEach(() => app.cleanup());

  it("deletes archives beyond the max count and audits each deletion as the system", async () => {
    app = createTestApp();
    saveRetentionSettings(app.db, { max_count: 2, retention_days: 30 });
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true }));
    // Retention runs after each successful backup: the oldest is already gone.
    const left = app.db.select().from(backups).all().map((r) => r.id);
    expect(left.sort()).toEqual([made[1]!.id, made[2]!.id]);
    expect(fs.existsSync(path.join(app.config.backupPath, made[0]!.filename))).toBe(false);
    const audit = app.db.select().from(auditLog).where(eq(auditLog.action, "backup.retention_delete")).all();
    expect(audit).toEqual([expect.objectContaining({ actorName: "system", actorId: null, success: true, resource: `backup:${made[0]!.id}` })]);
  });

  it("sweeps stray temporary files when asked", async () => {
    app = createTestApp();
    fs.writeFileSync(path.join(app.config.backupPath, "backup_20260101_000000.tar.gz.partial"), "x");
    fs.mkdirSync(path.join(app.config.backupPath, ".staging-99"));
    const result = await applyRetention({ db: app.db, config: app.config, sweep: true });
    expect(result.sweptFiles.sort()).toEqual([".staging-99", "backup_20260101_000000.tar.gz.partial"]);
    expect(fs.readdirSync(app.config.backupPath).filter((n) => n.includes("partial") || n.startsWith(".staging"))).toEqual([]);
  });
});
