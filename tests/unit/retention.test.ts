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
