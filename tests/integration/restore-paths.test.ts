import fs from "node:fs";
import path from "node:path";
import { desc, eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { auditLog } from "@/db/schema";
import { SYSTEM_ACTOR } from "@/server/audit";
import { planRestorePaths, restorePaths } from "@/server/backup/browse/restore-paths";
import { acquireOperationLock } from "@/server/backup/lock";
import { restoreBackup } from "@/server/backup/restore/restore";
import { createBackup } from "@/server/backup/service";
import { AppError } from "@/server/errors";
import { hashTree, sha256File, writeFiles, writeRandomFile } from "../helpers/files";
import { createTestApp, type TestApp } from "../helpers/test-app";

const LONG_REL = `alice/${"a folder with spaces/".repeat(12)}${"ñ".repeat(70)} file.txt`;
const ADMIN = { id: null, username: "admin-test" };

describe("restoring selected paths", () => {
  let app: TestApp;
  const store = (rel: string) => path.join(app.config.storagePath, rel);
  const ctx = () => ({ db: app.db, config: app.config, actor: ADMIN });
  const backup = (type: "full" | "incremental" = "full") =>
    createBackup({ db: app.db, config: app.config, actor: SYSTEM_ACTOR, input: { backup_type: type, wait: true } });

  beforeEach(() => {
    app = createTestApp();
    writeFiles(app.config.storagePath, {
      "alice/docs/report.txt": "report as backed up\n",
      "alice/docs/keep.txt": "keep\n",
      "alice/photos/ünïcödé name.txt": "unicode\n",
      "bob/notes.md": "bob v1\n",
      [LONG_REL]: "long\n",
    });
    writeRandomFile(store("alice/photos/big.bin"), 2 * 1024 * 1024 + 5);
  });
  afterEach(() => app.cleanup());

  it("restores one deleted file and leaves every other file byte-identical", async () => {
    const row = await backup();
    fs.rmSync(store("alice/docs/report.txt"));
    fs.writeFileSync(store("bob/notes.md"), "bob edited after the backup\n");
    writeFiles(app.config.storagePath, { "carol/new.txt": "new since\n" });
    const before = hashTree(app.config.storagePath);

    const result = await restorePaths({ ...ctx(), id: row.id, paths: ["files/alice/docs/report.txt"], destination: "original" });

    const after = hashTree(app.config.storagePath);
    expect(fs.readFileSync(store("alice/docs/report.txt"), "utf8")).toBe("report as backed up\n");
    delete after["alice/docs/report.txt"];
    expect(after).toEqual(before);
    expect(result.restoredFiles).toBe(1);
    const work = path.join(app.config.storagePath, ".baluhost-restore");
    expect(fs.existsSync(work) ? fs.readdirSync(work) : []).toEqual([]); // staging removed
  });

  it("lists what would be overwritten, then keeps the live version as 'name (before restore DATE).ext'", async () => {
    const row = await backup();
    fs.writeFileSync(store("bob/notes.md"), "bob v2, newer\n");
    const plan = await planRestorePaths({ ...ctx(), id: row.id, paths: ["files/bob"], destination: "original" });
    expect(plan.overwrites.map((o) => [o.target, o.newer])).toEqual([["bob/notes.md", true]]);
    const date = new Date().toISOString().slice(0, 10);
    expect(plan.overwrites[0].keptAs).toBe(`bob/notes (before restore ${date}).md`);

    const result = await restorePaths({ ...ctx(), id: row.id, paths: ["files/bob"], destination: "original" });
    expect(fs.readFileSync(store("bob/notes.md"), "utf8")).toBe("bob v1\n");
    expect(fs.readFileSync(store(`bob/notes (before restore ${date}).md`), "utf8")).toBe("bob v2, newer\n");
    expect(result.kept).toEqual([{ target: "bob/notes.md", keptAs: `bob/notes (before restore ${date}).md` }]);
    const audit = app.db.select().from(auditLog).where(eq(auditLog.action, "backup.restore_paths")).orderBy(desc(auditLog.id)).get();
    expect(audit?.success).toBe(true);
    expect(audit?.actorName).toBe("admin-test");
    expect((audit?.details as { paths: string[] }).paths).toEqual(["files/bob"]);
  });

  it("leaves identical files alone and counts them", async () => {
    const row = await backup();
    fs.rmSync(store("alice/docs/report.txt"));
    const result = await restorePaths({ ...ctx(), id: row.id, paths: ["files/alice/docs"], destination: "original" });
    expect([result.restoredFiles, result.unchangedCount, result.keptCount]).toEqual([1, 1, 0]);
    expect(fs.readdirSync(store("alice/docs")).sort()).toEqual(["keep.txt", "report.txt"]);
  });

  it("overwrites without keeping when the admin chooses to", async () => {
    const row = await backup();
    fs.writeFileSync(store("bob/notes.md"), "bob v2\n");
    await restorePaths({ ...ctx(), id: row.id, paths: ["files/bob/notes.md"], destination: "original", overwrite: true });
    expect(fs.readdirSync(store("bob"))).toEqual(["notes.md"]);
    expect(fs.readFileSync(store("bob/notes.md"), "utf8")).toBe("bob v1\n");
  });

  it("restores a folder into a side folder and leaves the original alone", async () => {
    const row = await backup();
    fs.rmSync(store("alice"), { recursive: true });
    const before = hashTree(app.config.storagePath);
    const result = await restorePaths({ ...ctx(), id: row.id, paths: ["files/alice"], destination: "folder" });
    const side = `restored/${row.filename.replace(/\.tar\.gz$/, "")}`;
    expect(result.root).toBe(side);
    expect(fs.existsSync(store("alice"))).toBe(false);
    const restored = hashTree(store(side));
    expect(restored["alice/docs/report.txt"]).toBeDefined();
    expect(restored["alice/photos/big.bin"]).toBe(sha256File(path.join(app.config.storagePath, side, "alice/photos/big.bin")));
    expect(fs.readFileSync(store(`${side}/${LONG_REL}`), "utf8")).toBe("long\n");
    expect(fs.readFileSync(store(`${side}/alice/photos/ünïcödé name.txt`), "utf8")).toBe("unicode\n");
    const after = hashTree(app.config.storagePath);
    for (const k of Object.keys(after)) if (k.startsWith("restored/")) delete after[k];
    expect(after).toEqual(before);
  });

  it("restores through an incremental chain the version as of the chosen backup", async () => {
    const full = await backup();
    fs.writeFileSync(store("alice/docs/report.txt"), "report v2\n");
    const inc = await backup("incremental");
    expect(inc.backupType).toBe("incremental");
    fs.writeFileSync(store("alice/docs/report.txt"), "report v3 live\n");
    fs.writeFileSync(store("bob/notes.md"), "bob live\n");

    await restorePaths({ ...ctx(), id: inc.id, paths: ["files/alice/docs/report.txt", "files/bob/notes.md"], destination: "original", overwrite: true });
    expect(fs.readFileSync(store("alice/docs/report.txt"), "utf8")).toBe("report v2\n");
    expect(fs.readFileSync(store("bob/notes.md"), "utf8")).toBe("bob v1\n"); // unchanged in the incremental: from the full backup

    await restorePaths({ ...ctx(), id: full.id, paths: ["files/alice/docs/report.txt"], destination: "original", overwrite: true });
    expect(fs.readFileSync(store("alice/docs/report.txt"), "utf8")).toBe("report as backed up\n");
  });

  it("restores names with spaces, Unicode and very long paths", async () => {
    const row = await backup();
    fs.rmSync(store("alice"), { recursive: true });
    await restorePaths({ ...ctx(), id: row.id, paths: [`files/${LONG_REL}`, "files/alice/photos/ünïcödé name.txt"], destination: "original" });
    expect(fs.readFileSync(store(LONG_REL), "utf8")).toBe("long\n");
    expect(fs.readFileSync(store("alice/photos/ünïcödé name.txt"), "utf8")).toBe("unicode\n");
  });

  it("refuses a path that is not in the backup, and changes nothing", async () => {
    const row = await backup();
    const before = hashTree(app.config.storagePath);
    const err = await restorePaths({ ...ctx(), id: row.id, paths: ["files/alice/nope.txt"], destination: "original" }).catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe("NOT_FOUND");
    expect(hashTree(app.config.storagePath)).toEqual(before);
  });

  it.each([["../etc/passwd"], ["/etc/passwd"], ["files/../../etc"], ["files/alice/\u0000x"], ["C:\\Windows"], ["files//alice"], ["config/nas.json"]])(
    "refuses the hostile or out-of-storage path %j",
    async (bad) => {
      const row = await backup();
      const before = hashTree(app.config.storagePath);
      const err = await restorePaths({ ...ctx(), id: row.id, paths: [bad], destination: "original" }).catch((e) => e);
      expect((err as AppError).code).toBe("BAD_REQUEST");
      expect(hashTree(app.config.storagePath)).toEqual(before);
      const audit = app.db.select().from(auditLog).where(eq(auditLog.action, "backup.restore_paths")).orderBy(desc(auditLog.id)).get();
      expect(audit?.success).toBe(false);
    },
  );

  it("refuses a side folder outside the storage", async () => {
    const row = await backup();
    const err = await restorePaths({ ...ctx(), id: row.id, paths: ["files/bob"], destination: "folder", folder: "../outside" }).catch((e) => e);
    expect((err as AppError).code).toBe("BAD_REQUEST");
    expect(fs.existsSync(path.join(app.config.storagePath, "..", "outside"))).toBe(false);
  });

  it("is refused while another operation holds the lock, and a full restore is refused while it runs", async () => {
    const row = await backup();
    const held = acquireOperationLock(app.config.backupPath, "backup", "a test backup");
    const err = await restorePaths({ ...ctx(), id: row.id, paths: ["files/bob"], destination: "original" }).catch((e) => e);
    expect((err as AppError).code).toBe("OPERATION_IN_PROGRESS");
    held.release();

    const running = restorePaths({ ...ctx(), id: row.id, paths: ["files/alice"], destination: "folder" });
    const full = await restoreBackup({ db: app.db, config: app.config, actor: SYSTEM_ACTOR, backupId: row.id, parts: { database: false, files: true, config: false }, confirm: true }).catch((e) => e);
    expect((full as AppError).code).toBe("RESTORE_IN_PROGRESS");
    await running;
  });

  it("does not follow a symlink planted where a restored folder goes", async () => {
    const row = await backup();
    const outside = fs.mkdtempSync(path.join(app.root, "outside-"));
    fs.rmSync(store("alice/docs"), { recursive: true });
    fs.symlinkSync(outside, store("alice/docs"));
    await restorePaths({ ...ctx(), id: row.id, paths: ["files/alice/docs/report.txt"], destination: "original" });
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(fs.lstatSync(store("alice/docs")).isDirectory()).toBe(true);
    expect(fs.readFileSync(store("alice/docs/report.txt"), "utf8")).toBe("report as backed up\n");
  });
});
