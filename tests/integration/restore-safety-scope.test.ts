/**
 * The safety backup a restore takes first covers exactly the parts being restored: a
 * database-only restore saves the current database, not every file. The restore plan says
 * so (type and size) and checks the free space before anything runs.
 */
import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { users } from "@/db/schema";
import { planRestoreSpace } from "@/server/backup/restore/plan";
import { createUser } from "@/server/users";
import { gnuTarList, hashTree, writeFiles, writeRandomFile } from "../helpers/files";
import { createTestApp, type TestApp } from "../helpers/test-app";

describe("a safety backup scoped to the restore", () => {
  let app: TestApp;

  beforeEach(async () => {
    app = createTestApp();
    await app.ready;
    writeFiles(app.config.storagePath, { "notes.txt": "hello\n" });
    writeRandomFile(path.join(app.config.storagePath, "videos/big.bin"), 8 * 1024 * 1024);
    writeFiles(app.config.configPath, { "nas.json": '{"name":"before"}' });
  });

  afterEach(() => app.cleanup());

  const usernames = () =>
    app.db
      .select({ username: users.username })
      .from(users)
      .all()
      .map((u) => u.username)
      .sort();

  it("saves only the current database before a database-only restore, and undoing it leaves the files alone", async () => {
    const backup = await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true });
    createUser(app.db, { username: "carol", password: "carol-password-1", role: "user" });
    const withCarol = usernames();
    const outcome = await app.caller(app.admin).backup.restore({ backup_id: backup.id, confirm: true });
    expect(usernames()).not.toContain("carol");

    const safety = await app.caller(app.admin).backup.get({ id: outcome.safety_backup_id });
    expect(safety).toMatchObject({ origin: "safety", backup_type: "database_only", includes_files: false, includes_config: false });
    // Far smaller than the 8 MiB of files it has no business copying.
    expect(safety.size_bytes).toBeLessThan(1024 * 1024);
    expect(gnuTarList(path.join(app.config.backupPath, safety.filename)).some((n) => n.startsWith("backup/files"))).toBe(false);

    fs.writeFileSync(path.join(app.config.storagePath, "notes.txt"), "edited after the restore\n");
    const files = hashTree(app.config.storagePath);
    await app.caller(app.admin).backup.restore({ backup_id: safety.id, confirm: true });
    expect(usernames()).toEqual(withCarol);
    expect(hashTree(app.config.storagePath)).toEqual(files);
  });

  it("saves only the files before a files-only restore, and only the config before a config-only one", async () => {
    const full = await app.caller(app.admin).backup.create({ backup_type: "full", includes_config: true, wait: true });
    const filesOnly = await app.caller(app.admin).backup.restore({ backup_id: full.id, restore_database: false, restore_files: true, confirm: true });
    expect(await app.caller(app.admin).backup.get({ id: filesOnly.safety_backup_id })).toMatchObject({
      backup_type: "files_only",
      includes_database: false,
      includes_config: false,
    });
    const configOnly = await app.caller(app.admin).backup.restore({
      backup_id: full.id,
      restore_database: false,
      restore_files: false,
      restore_config: true,
      confirm: true,
    });
    expect(await app.caller(app.admin).backup.get({ id: configOnly.safety_backup_id })).toMatchObject({
      backup_type: "config_only",
      includes_config: true,
    });
  });

  it("tells the dialog which safety backup comes first, about how big, and that the space is there", async () => {
    const backup = await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true });
    const plan = await app.caller(app.admin).backup.restorePlan({ backup_id: backup.id });
    expect(plan.parts).toEqual({ database: true, files: false, config: false });
    expect(plan.safety_backup).toMatchObject({ backup_type: "database_only", includes_config: false });
    expect(plan.safety_backup.estimated_bytes).toBe(fs.statSync(app.config.databasePath).size + (fs.existsSync(`${app.config.databasePath}-wal`) ? fs.statSync(`${app.config.databasePath}-wal`).size : 0));
    expect(plan.enough_space).toBe(true);
    expect(plan.volumes.length).toBeGreaterThan(0);

    const full = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    const fullPlan = await app.caller(app.admin).backup.restorePlan({ backup_id: full.id });
    expect(fullPlan.safety_backup.backup_type).toBe("full");
    expect(fullPlan.safety_backup.estimated_bytes).toBeGreaterThan(8 * 1024 * 1024);
  });

  it("says, with both figures, when a volume lacks the room, before anything runs", async () => {
    const plan = await planRestoreSpace({
      config: app.config,
      parts: { database: true, files: true, config: false },
      stagedBytes: 10 * 1024 * 1024,
      freeSpace: async () => 1024 * 1024,
    });
    expect(plan.enough).toBe(false);
    expect(plan.volumes[0]).toMatchObject({ freeBytes: 1024 * 1024, holds: expect.arrayContaining(["the safety backup"]) });

    const backup = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    const { restoreBackup } = await import("@/server/backup/restore/restore");
    const before = hashTree(app.config.storagePath);
    await expect(
      restoreBackup({
        db: app.db,
        config: app.config,
        actor: { id: app.admin.id, username: "admin" },
        backupId: backup.id,
        parts: { database: true, files: true, config: false },
        confirm: true,
        freeSpace: async () => 1024 * 1024,
      }),
    ).rejects.toMatchObject({ code: "INSUFFICIENT_SPACE", message: expect.stringMatching(/MiB needed .* 1 MiB free/) });
    expect(hashTree(app.config.storagePath)).toEqual(before);
    expect(app.db.select().from(users).where(eq(users.username, "admin")).get()).toBeDefined();
  });
});
