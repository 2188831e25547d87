/**
 * Catalog rows written straight into the test app's database, for tests of what reads the
 * catalog (health, alerts): a backup made at a given time, a drill, a plan.
 */
import path from "node:path";
import { backupPlans, backups, restoreDrills, type Backup, type BackupOrigin } from "@/db/schema";
import type { TestApp } from "./test-app";

let serial = 0;

export function insertBackup(
  app: TestApp,
  at: Date,
  overrides: Partial<Pick<Backup, "status" | "origin" | "sizeBytes" | "errorMessage" | "errorCode" | "verifyStatus" | "verifiedAt" | "verifyError">> & { origin?: BackupOrigin } = {},
): Backup {
  serial += 1;
  const digits = at.toISOString().replace(/\D/g, "");
  // The catalog's own naming (backup_YYYYMMDD_HHMMSS[_N].tar.gz): other names are refused when deleted.
  const filename = `backup_${digits.slice(0, 8)}_${digits.slice(8, 14)}_${serial + 1}.tar.gz`;
  return app.db
    .insert(backups)
    .values({
      filename,
      filepath: path.join(app.config.backupPath, filename),
      backupType: "full",
      status: "completed",
      origin: "manual",
      createdAt: at,
      completedAt: overrides.status === "in_progress" ? null : at,
      includesDatabase: true,
      includesFiles: true,
      includesConfig: false,
      sizeBytes: 1000,
      ...overrides,
    })
    .returning()
    .get();
}

export function insertDrill(app: TestApp, at: Date, status: "passed" | "failed", durationMs = 4200) {
  return app.db
    .insert(restoreDrills)
    .values({ actorName: "system", status, startedAt: at, finishedAt: new Date(at.getTime() + durationMs), durationMs, errorMessage: status === "failed" ? "file checksum mismatch" : null })
    .returning()
    .get();
}

export function insertPlan(app: TestApp, cron: string, timezone = "UTC", enabled = true) {
  serial += 1;
  return app.db
    .insert(backupPlans)
    .values({ name: `plan ${serial}`, backupType: "full", cron, timezone, enabled, updatedAt: new Date() })
    .returning()
    .get();
}
