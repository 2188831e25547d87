import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { alertIncidents, notificationDeliveries } from "@/db/schema";
import { SYSTEM_ACTOR } from "@/server/audit";
import { saveAlertSettings } from "@/server/backup/notify/alert-settings";
import { createChannel } from "@/server/backup/notify/channels";
import { checkAlerts } from "@/server/backup/notify/monitor";
import fs from "node:fs";
import { verifyBackup } from "@/server/backup/import";
import { applyRetention } from "@/server/backup/retention";
import { createBackup } from "@/server/backup/service";
import type { VolumeSpace } from "@/server/backup/health";
import { insertBackup } from "../helpers/catalog-rows";
import { createTestApp, type TestApp } from "../helpers/test-app";

const HOUR = 3_600_000;
const T0 = new Date("2026-03-01T12:00:00Z");
const at = (hours: number) => new Date(T0.getTime() + hours * HOUR);
const TOTAL = 1000 * 1024 ** 3;

describe("alert monitor", () => {
  let app: TestApp;
  beforeEach(async () => {
    app = createTestApp();
    await createChannel({
      db: app.db,
      config: app.config,
      actor: SYSTEM_ACTOR,
      input: { kind: "webhook", name: "all", settings: { url: "http://127.0.0.1:9/hook" }, events: ["no_recent_backup", "disk_low", "retention_deleted", "verify_failed"] },
    });
  });
  afterEach(async () => {
    await app.cleanup();
  });

  const plenty = async (): Promise<VolumeSpace> => ({ freeBytes: TOTAL / 2, totalBytes: TOTAL });
  const check = (now: Date, volumeSpace: (dir: string) => Promise<VolumeSpace> = plenty) => checkAlerts({ db: app.db, config: app.config, now, volumeSpace });
  const queued = () => app.db.select().from(notificationDeliveries).all().map((d) => d.event);
  const incidents = () => app.db.select().from(alertIncidents).all();
  const settings = (over: Partial<{ no_backup_hours: number; disk_free_min_percent: number; notify_retention_deleted: boolean }>) =>
    saveAlertSettings(app.db, { no_backup_hours: 24, disk_free_min_percent: 10, notify_retention_deleted: true, ...over });

  describe("no recent backup (dead man's switch)", () => {
    it("stays quiet while the newest successful backup is younger than the limit", async () => {
      settings({ no_backup_hours: 24 });
      insertBackup(app, T0);
      expect(await check(at(23.9))).toEqual({ opened: [], resolved: [] });
      expect(queued()).toEqual([]);
    });

    it("opens an alert and announces it once, then sends nothing more while it stays open", async () => {
      settings({ no_backup_hours: 24 });
      insertBackup(app, T0);
      expect((await check(at(25))).opened).toEqual(["no_recent_backup"]);
      await check(at(26));
      await check(at(48));
      expect(queued()).toEqual(["no_recent_backup"]);
      expect(incidents()).toHaveLength(1);
      const payload = app.db.select().from(notificationDeliveries).get()!.payload as { title: string; severity: string };
      expect(payload).toMatchObject({ title: "No successful backup for 25 h", severity: "critical" });
    });

    it("closes the alert when a backup succeeds and announces resolved once", async () => {
      settings({ no_backup_hours: 24 });
      insertBackup(app, T0);
      await check(at(25));
      insertBackup(app, at(30));
      expect((await check(at(30.1))).resolved).toEqual(["no_recent_backup"]);
      await check(at(31));
      expect(queued()).toEqual(["no_recent_backup", "resolved"]);
      expect(incidents()[0]!.clearedAt).not.toBeNull();
    });

    it("does not count a failed backup, a safety backup or an upload as a success", async () => {
      settings({ no_backup_hours: 24 });
      insertBackup(app, T0);
      insertBackup(app, at(20), { status: "failed", errorMessage: "disk full" });
      insertBackup(app, at(21), { origin: "safety" });
      insertBackup(app, at(22), { origin: "uploaded" });
      expect((await check(at(25))).opened).toEqual(["no_recent_backup"]);
    });

    it("counts from when the NAS was set up when no backup was ever made", async () => {
      const setUp = app.db.query.users.findFirst().sync()!.createdAt;
      expect((await check(new Date(setUp.getTime() + 47 * HOUR))).opened).toEqual([]);
      expect((await check(new Date(setUp.getTime() + 49 * HOUR))).opened).toEqual(["no_recent_backup"]);
    });

    it("is off at 0 hours", async () => {
      settings({ no_backup_hours: 0 });
      insertBackup(app, T0);
      expect(await check(at(24 * 365))).toEqual({ opened: [], resolved: [] });
    });
  });

  describe("low disk", () => {
    const free = (percent: number) => async (): Promise<VolumeSpace> => ({ freeBytes: (TOTAL * percent) / 100, totalBytes: TOTAL });

    it("opens once when free space drops below the threshold, and resolves once above it", async () => {
      settings({ disk_free_min_percent: 10 });
      insertBackup(app, T0);
      expect((await check(at(1), free(5))).opened).toEqual(["disk_low"]);
      await check(at(2), free(4));
      // Within a point above the threshold it stays open: no alert / all-clear flapping.
      expect(await check(at(3), free(10.5))).toEqual({ opened: [], resolved: [] });
      expect((await check(at(4), free(12))).resolved).toEqual(["disk_low"]);
      expect(queued()).toEqual(["disk_low", "resolved"]);
      const alert = app.db.select().from(notificationDeliveries).get()!.payload as { message: string };
      expect(alert.message).toMatch(/Only 50 GiB \(5 %\) is free on the backup volume/);
    });

    it("leaves the alert as it is when the free space cannot be read", async () => {
      settings({ disk_free_min_percent: 10 });
      insertBackup(app, T0);
      await check(at(1), free(5));
      await check(at(2), () => Promise.reject(new Error("EIO")));
      expect(incidents().filter((i) => i.clearedAt === null)).toHaveLength(1);
    });

    it("is off at 0 %", async () => {
      settings({ disk_free_min_percent: 0 });
      insertBackup(app, T0);
      expect(await check(at(1), free(0.1))).toEqual({ opened: [], resolved: [] });
    });
  });

  describe("retention deletions", () => {
    it("announces the deleted filenames and the freed bytes", async () => {
      const now = Date.now();
      const old = insertBackup(app, new Date(now - 40 * 24 * HOUR), { sizeBytes: 5000 });
      insertBackup(app, new Date(now - HOUR));
      const result = await applyRetention({ db: app.db, config: app.config, sweep: false });
      expect(result.deleted.map((d) => d.filename)).toEqual([old.filename]);
      const [delivery] = app.db.select().from(notificationDeliveries).all();
      expect(delivery!.event).toBe("retention_deleted");
      expect(delivery!.payload).toMatchObject({ details: { filenames: [old.filename], freed_bytes: 5000, count: 1 } });
    });

    it("announces nothing when the admin switched it off", async () => {
      settings({ notify_retention_deleted: false });
      const now = Date.now();
      insertBackup(app, new Date(now - 40 * 24 * HOUR));
      insertBackup(app, new Date(now - HOUR));
      expect((await applyRetention({ db: app.db, config: app.config, sweep: false })).deleted).toHaveLength(1);
      expect(queued()).toEqual([]);
    });
  });

  describe("verification", () => {
    it("announces verify_failed when a backup's archive turns out damaged", async () => {
      await app.ready;
      const row = await createBackup({ db: app.db, config: app.config, actor: SYSTEM_ACTOR, input: { backup_type: "database_only", wait: true } });
      expect(row.status).toBe("completed");
      const verified = await verifyBackup({ db: app.db, config: app.config, actor: SYSTEM_ACTOR, id: row.id });
      expect(verified.verifyStatus).toBe("ok");
      expect(queued()).toEqual([]);
      fs.truncateSync(row.filepath, Math.floor(fs.statSync(row.filepath).size / 2));
      await verifyBackup({ db: app.db, config: app.config, actor: SYSTEM_ACTOR, id: row.id });
      expect(queued()).toEqual(["verify_failed"]);
      expect(app.db.select().from(notificationDeliveries).get()!.payload).toMatchObject({ title: "Backup verification failed", backupId: row.id });
    });
  });
});
