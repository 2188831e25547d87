/**
 * The doors into restore drills: the tRPC router (admin only), the REST paths and the CLI.
 * The drill itself is tested in restore-drill.test.ts; here, that each door calls it, answers
 * the shared contract and refuses who it must without changing anything.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { restoreDrills } from "@/db/schema";
import { POST as drillRoute } from "@/app/api/backups/[id]/drill/route";
import { GET as drillsRoute } from "@/app/api/backups/drills/route";
import { drillListSchema, drillRecordSchema } from "@/server/backup/drill/contract";
import { waitForDrill } from "@/server/backup/drill/drill";
import { acquireOperationLock } from "@/server/backup/lock";
import { WORK_DIR } from "@/server/backup/restore/journal";
import { registerBackupCommands } from "@/server/cli/backups";
import { runCliInProcess } from "../helpers/cli";
import { writeFiles } from "../helpers/files";
import { errorOf, idSegment, noSegment, restRequest, tokenFor } from "../helpers/rest";
import { createTestApp, type TestApp } from "../helpers/test-app";

let app: TestApp;
beforeEach(async () => {
  app = createTestApp();
  await app.ready;
  writeFiles(app.config.storagePath, { "a.txt": "original a\n", "dir/b.txt": "original b\n" });
});
afterEach(() => app.cleanup());

const drillRows = () => app.db.select().from(restoreDrills).all();
const noSandbox = () => !fs.existsSync(path.join(app.config.storagePath, WORK_DIR));

describe("the drill router", () => {
  it("starts a drill, answers with the running row at once, and `last` shows the result", async () => {
    const backup = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    expect(await app.caller(app.admin).drill.last()).toBeNull();
    const started = await app.caller(app.admin).drill.run({ backup_id: backup.id });
    expect(started).toMatchObject({ status: "running", backup_id: backup.id, backup_filename: backup.filename, actor_name: "admin" });
    expect(started.progress).not.toBeNull();
    await waitForDrill(started.id);
    const last = await app.caller(app.admin).drill.last();
    expect(last).toMatchObject({ id: started.id, status: "passed", progress: null, error_message: null });
    expect(last!.checks.map((c) => c.name)).toEqual(["archive", "contents", "database_integrity", "migrations"]);
    expect(await app.caller(app.admin).drill.list()).toEqual([last]);
  });

  it("drills the newest backup when no backup is named", async () => {
    await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    const newest = await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true });
    const started = await app.caller(app.admin).drill.run();
    await waitForDrill(started.id);
    expect(started.backup_id).toBe(newest.id);
  });

  it("refuses a drill while another operation runs, with 409 and no row", async () => {
    await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    const held = acquireOperationLock(app.config.backupPath, "backup", "a running backup");
    try {
      await expect(app.caller(app.admin).drill.run()).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/Another backup or restore is in progress/) });
    } finally {
      held.release();
    }
    expect(drillRows()).toEqual([]);
  });

  it("is for admins only: a normal user and an anonymous caller are refused and nothing runs", async () => {
    await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    for (const [who, code] of [
      [app.user, "FORBIDDEN"],
      [null, "UNAUTHORIZED"],
    ] as const) {
      await expect(app.caller(who).drill.run()).rejects.toMatchObject({ code });
      await expect(app.caller(who).drill.list()).rejects.toMatchObject({ code });
      await expect(app.caller(who).drill.last()).rejects.toMatchObject({ code });
    }
    expect(drillRows()).toEqual([]);
    expect(noSandbox()).toBe(true);
  });
});

describe("the drill REST paths", () => {
  it("POST /api/backups/{id}/drill waits and answers with the finished drill", async () => {
    const backup = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    const res = await drillRoute(restRequest(`/api/backups/${backup.id}/drill`, { method: "POST", token: tokenFor(app, "admin") }), idSegment(backup.id));
    expect(res.status).toBe(200);
    const record = drillRecordSchema.parse(await res.json());
    expect(record).toMatchObject({ status: "passed", backup_id: backup.id, progress: null });
    expect(record.duration_ms).toBeGreaterThanOrEqual(0);
    expect(noSandbox()).toBe(true);
  });

  it("POST answers 404 naming an unknown backup, and 403 to a normal user, without running anything", async () => {
    await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    const unknown = await drillRoute(restRequest("/api/backups/99/drill", { method: "POST", token: tokenFor(app, "admin") }), idSegment(99));
    expect(unknown.status).toBe(404);
    expect((await errorOf(unknown)).message).toBe("Backup 99 does not exist.");
    const user = await drillRoute(restRequest("/api/backups/1/drill", { method: "POST", token: tokenFor(app, "user") }), idSegment(1));
    expect(user.status).toBe(403);
    expect(drillRows()).toEqual([]);
  });

  it("GET /api/backups/drills lists drills newest first, and honours ?limit", async () => {
    const backup = await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true });
    const token = tokenFor(app, "admin");
    for (let i = 0; i < 2; i++) await drillRoute(restRequest(`/api/backups/${backup.id}/drill`, { method: "POST", token }), idSegment(backup.id));
    const all = drillListSchema.parse(await (await drillsRoute(restRequest("/api/backups/drills", { token }), noSegment())).json());
    expect(all.drills.map((d) => d.id)).toEqual([2, 1]);
    const one = drillListSchema.parse(await (await drillsRoute(restRequest("/api/backups/drills?limit=1", { token }), noSegment())).json());
    expect(one.drills.map((d) => d.id)).toEqual([2]);
    const bad = await drillsRoute(restRequest("/api/backups/drills?limit=0", { token }), noSegment());
    expect(bad.status).toBe(400);
  });
});

describe("backup drill on the command line", () => {
  const cli = (...args: string[]) => runCliInProcess(args, { groups: [registerBackupCommands] });

  it("prints each check of a passed drill and exits 0", async () => {
    const backup = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    const run = await cli("backup", "drill", String(backup.id));
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^drill 1 passed: ${backup.filename} restores \\(restore took `));
    expect(run.stdout).toContain("ok      Restored files match the manifest");
  });

  it("prints the drill record with --json", async () => {
    await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    const run = await cli("--json", "backup", "drill");
    expect(run.code).toBe(0);
    expect(drillRecordSchema.parse(JSON.parse(run.stdout))).toMatchObject({ status: "passed", actor_name: expect.stringMatching(/^cli/) });
  });

  it("exits 1 with the failing check when the drill fails", async () => {
    const backup = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    fs.truncateSync(path.join(app.config.backupPath, backup.filename), 200);
    const run = await cli("backup", "drill", String(backup.id));
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^drill 1 FAILED: .*Archive readable, hashes match/);
    expect(run.stderr).toMatch(/^error: the restore drill of backup_\S+ failed; do not rely on that backup until a drill passes\n$/);
  });

  it("exits 1 with the reason when the drill is refused, and lists drills with `backup drills`", async () => {
    const refused = await cli("backup", "drill");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/no completed, undamaged backup to drill yet/);
    expect((await cli("backup", "drills")).stdout).toMatch(/^no restore drill yet/);
    await app.caller(app.admin).backup.create({ backup_type: "database_only", wait: true });
    await cli("backup", "drill");
    const list = await cli("backup", "drills");
    expect(list.stdout.split("\n")[1]).toMatch(/^1\s+\S+ \S+\s+passed\s+\S+.*backup_\d{8}_\d{6}\.tar\.gz$/);
  });
});
