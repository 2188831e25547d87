/**
 * account.lastFilesBackup: the one backup fact a normal user may see. It is the completion
 * time of the newest completed backup that includes files, and nothing else leaks.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backups } from "@/db/schema";
import { createTestApp, type TestApp } from "../helpers/test-app";

type Row = typeof backups.$inferInsert;

function row(app: TestApp, filename: string, fields: Partial<Row>): Row {
  return {
    filename,
    filepath: `${app.config.backupPath}/${filename}`,
    backupType: "full",
    status: "completed",
    includesDatabase: true,
    includesFiles: true,
    includesConfig: false,
    sizeBytes: 1024,
    ...fields,
  };
}

describe("account.lastFilesBackup", () => {
  let app: TestApp;
  beforeEach(async () => {
    app = createTestApp();
    await app.ready;
  });
  afterEach(() => app.cleanup());

  it("refuses an anonymous caller with UNAUTHORIZED", async () => {
    await expect(app.caller(null).account.lastFilesBackup()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  });

  it("gives a user null when no backup includes the files", async () => {
    app.db.insert(backups).values(row(app, "backup_db.tar.gz", { backupType: "database_only", includesFiles: false, completedAt: new Date() })).run();
    await expect(app.caller(app.user).account.lastFilesBackup()).resolves.toEqual({ last_files_backup_at: null });
  });

  it("gives a user only the completion time of the newest completed backup with files", async () => {
    const older = new Date("2026-11-30T03:00:00.000Z");
    const newest = new Date("2026-12-01T03:00:05.000Z");
    app.db
      .insert(backups)
      .values([
        row(app, "backup_old.tar.gz", { completedAt: older }),
        row(app, "backup_new.tar.gz", { backupType: "files_only", includesDatabase: false, completedAt: newest }),
        // Newer, but not counted: failed, running, or without files.
        row(app, "backup_failed.tar.gz", { status: "failed", completedAt: new Date("2026-12-02T00:00:00.000Z") }),
        row(app, "backup_running.tar.gz", { status: "in_progress", completedAt: null }),
        row(app, "backup_dbonly.tar.gz", { backupType: "database_only", includesFiles: false, completedAt: new Date("2026-12-03T00:00:00.000Z") }),
      ])
      .run();
    const answer = await app.caller(app.user).account.lastFilesBackup();
    expect(answer).toEqual({ last_files_backup_at: newest.toISOString() });
    expect(Object.keys(answer)).toEqual(["last_files_backup_at"]);
  });

  it("still refuses the backup list to the same user", async () => {
    await expect(app.caller(app.user).backup.list()).rejects.toMatchObject({ code: "FORBIDDEN" });
  });
});
