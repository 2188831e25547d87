/**
 * Retention never deletes by surprise: the admin sees what new rules would remove before
 * saving them, saving applies them at once, protected backups survive every rule, and a
 * command that has nothing to do with backups (a CLI `user create`) never prunes.
 */
import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { auditLog, backups } from "@/db/schema";
import { saveRetentionSettings } from "@/server/backup/settings";
import type { BackupRecord } from "@/server/backup/contract";
import { spawnCli } from "../helpers/cli";
import { writeFiles } from "../helpers/files";
import { createTestApp, type TestApp } from "../helpers/test-app";

describe("honest retention", () => {
  let app: TestApp;
  let made: BackupRecord[];

  beforeEach(async () => {
    app = createTestApp();
    await app.ready;
    writeFiles(app.config.storagePath, { "notes.txt": "hello\n" });
    made = [];
    for (let i = 0; i < 4; i++) made.push(await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true }));
  });

  afterEach(() => app.cleanup());

  const ids = () =>
    app.db
      .select({ id: backups.id })
      .from(backups)
      .all()
      .map((r) => r.id)
      .sort((a, b) => a - b);

  it("previews what new rules would remove, with names and sizes, and removes nothing", async () => {
    const preview = await app.caller(app.admin).backup.previewRetention({ max_count: 2, retention_days: 30 });
    expect(preview.remove.map((r) => r.filename)).toEqual([made[1]!.filename, made[0]!.filename]);
    expect(preview.remove[0]).toMatchObject({ size_bytes: made[1]!.size_bytes, backup_type: "database_only", status: "completed" });
    expect(preview.freed_bytes).toBe(made[0]!.size_bytes + made[1]!.size_bytes);
    expect(ids()).toEqual(made.map((m) => m.id));
  });

  it("applies saved rules at once and says what it removed", async () => {
    const saved = await app.caller(app.admin).backup.updateRetention({ max_count: 2, retention_days: 30 });
    expect(saved).toMatchObject({ applied: true, max_count: 2, sources: { max_count: "settings" } });
    expect(saved.deleted.map((d) => d.id).sort()).toEqual([made[0]!.id, made[1]!.id]);
    expect(ids()).toEqual([made[2]!.id, made[3]!.id]);
    expect(fs.existsSync(path.join(app.config.backupPath, made[0]!.filename))).toBe(false);
  });

  it("keeps a protected backup through saved rules and later backups, and lets it go once unprotected", async () => {
    await app.caller(app.admin).backup.setProtected({ id: made[0]!.id, protect: true });
    const preview = await app.caller(app.admin).backup.previewRetention({ max_count: 1, retention_days: 30 });
    expect(preview.remove.map((r) => r.id)).not.toContain(made[0]!.id);
    await app.caller(app.admin).backup.updateRetention({ max_count: 1, retention_days: 30 });
    await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true });
    expect(ids()).toContain(made[0]!.id);
    expect((await app.caller(app.admin).backup.get({ id: made[0]!.id })).protected).toBe(true);

    await app.caller(app.admin).backup.setProtected({ id: made[0]!.id, protect: false });
    await app.caller(app.admin).backup.updateRetention({ max_count: 1, retention_days: 30 });
    expect(ids()).not.toContain(made[0]!.id);
    const audit = app.db.select().from(auditLog).where(eq(auditLog.action, "backup.protect")).all();
    expect(audit).toEqual([expect.objectContaining({ actorName: "admin", resource: `backup:${made[0]!.id}` })]);
  });

  it("refuses protection for a normal user and changes nothing", async () => {
    await expect(app.caller(app.user).backup.setProtected({ id: made[0]!.id, protect: true })).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect((await app.caller(app.admin).backup.get({ id: made[0]!.id })).protected).toBe(false);
    await expect(app.caller(app.user).backup.previewRetention({ max_count: 1, retention_days: 1 })).rejects.toMatchObject({ code: "FORBIDDEN" });
  });

  it("does not prune when a CLI command that is not backup work starts up", async () => {
    // Rules that would remove three backups, saved without applying them (as an old version left them).
    saveRetentionSettings(app.db, { max_count: 1, retention_days: 30 });
    const before = ids();
    const run = await spawnCli(["user", "create", "bob", "--role", "user"], { env: app.env, input: "bob-password-1\n" });
    expect(run.code, run.stderr).toBe(0);
    // And the next start of this process (a restart of the server) does not prune either.
    app = await app.restart();
    await app.ready;
    expect(ids()).toEqual(before);
    expect(app.db.select().from(auditLog).where(eq(auditLog.action, "backup.retention_delete")).all()).toEqual([]);
  });
});
