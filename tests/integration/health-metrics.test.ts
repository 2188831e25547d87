import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { alertIncidents } from "@/db/schema";
import { GET as trpcGet } from "@/app/api/trpc/[trpc]/route";
import { GET as listBackupsRoute } from "@/app/api/backups/route";
import { GET as healthRoute } from "@/app/api/health/backups/route";
import { GET as metricsRoute } from "@/app/api/metrics/route";
import { backupHealth, healthMetrics, type VolumeSpace } from "@/server/backup/health";
import { downloadBackupRoute } from "@/server/http/backup-download";
import { createApiToken } from "@/server/tokens";
import { insertBackup, insertDrill, insertPlan } from "../helpers/catalog-rows";
import { errorOf, idSegment, noSegment, restRequest, tokenFor } from "../helpers/rest";
import { createTestApp, type TestApp } from "../helpers/test-app";

const HOUR = 3_600_000;
const NOW = new Date("2026-03-01T06:00:00Z");
const ago = (hours: number) => new Date(NOW.getTime() - hours * HOUR);
const TOTAL = 100 * 1024 ** 3;
const space = (percent: number) => async (): Promise<VolumeSpace> => ({ freeBytes: (TOTAL * percent) / 100, totalBytes: TOTAL });

describe("backup health", () => {
  let app: TestApp;
  beforeEach(() => {
    app = createTestApp();
  });
  afterEach(async () => {
    await app.cleanup();
  });

  const health = (free = 50) => backupHealth({ db: app.db, config: app.config, now: NOW, volumeSpace: space(free) });

  it("is critical on a NAS that was never backed up", async () => {
    const h = await health();
    expect(h).toMatchObject({ status: "critical", summary: "No backup has been made yet", last_success_at: null, backups_count: 0 });
  });

  it("is ok with a recent verified backup, and says when the next one runs", async () => {
    insertBackup(app, ago(3), { verifyStatus: "ok", verifiedAt: ago(2), sizeBytes: 2048 });
    insertPlan(app, "0 3 * * *", "UTC");
    const h = await health();
    expect(h.status).toBe("ok");
    expect(h.summary).toBe("Protected: last backup 3 h ago, verified; next in 21 h");
    expect(h).toMatchObject({
      last_success_age_seconds: 3 * 3600,
      next_scheduled_run_at: "2026-03-02T03:00:00.000Z",
      backups_count: 1,
      total_bytes: 2048,
      free_bytes: TOTAL / 2,
      last_verify: { status: "ok" },
    });
  });

  it("reads the next run in the plan's time zone and ignores disabled plans", async () => {
    insertBackup(app, ago(1));
    insertPlan(app, "0 3 * * *", "Europe/Berlin"); // 02:00 UTC in winter
    insertPlan(app, "30 6 * * *", "UTC", false);
    expect((await health()).next_scheduled_run_at).toBe("2026-03-02T02:00:00.000Z");
  });

  it("is critical when the newest backup made here failed, even after an earlier success", async () => {
    insertBackup(app, ago(3));
    insertBackup(app, ago(1), { status: "failed", errorMessage: "disk full" });
    const h = await health();
    expect(h.status).toBe("critical");
    expect(h.summary).toBe("The last backup failed 1 h ago: disk full; last success 3 h ago");
    expect(h).toMatchObject({ last_failure_message: "disk full", last_failure_at: ago(1).toISOString() });
  });

  it("does not count a cancelled backup as a failure", async () => {
    insertBackup(app, ago(3));
    insertBackup(app, ago(1), { status: "failed", errorCode: "BACKUP_CANCELLED", errorMessage: "cancelled" });
    expect((await health()).status).toBe("ok");
  });

  it("is critical when the newest success is older than the no-backup limit", async () => {
    insertBackup(app, ago(50));
    const h = await health();
    expect(h).toMatchObject({ status: "critical", summary: "No successful backup for 2 days" });
  });

  it("is critical while a no_recent_backup alert is open", async () => {
    insertBackup(app, ago(3));
    app.db.insert(alertIncidents).values({ kind: "no_recent_backup", openedAt: ago(1), message: "no backup" }).run();
    expect((await health()).status).toBe("critical");
  });

  it("warns when the last restore drill failed", async () => {
    insertBackup(app, ago(3));
    insertDrill(app, ago(2), "failed");
    const h = await health();
    expect(h.status).toBe("warning");
    expect(h.summary).toMatch(/^Protected: last backup 3 h ago; no backup scheduled\. The last restore drill failed: file checksum mismatch$/);
    expect(h.last_drill).toMatchObject({ status: "failed", duration_ms: 4200 });
  });

  it("warns when the last verification failed", async () => {
    insertBackup(app, ago(3), { verifyStatus: "failed", verifiedAt: ago(1), verifyError: "checksum mismatch" });
    const h = await health();
    expect(h.status).toBe("warning");
    expect(h.summary).toContain(", damaged;");
  });

  it("warns when free space is below the threshold", async () => {
    insertBackup(app, ago(3));
    const h = await health(4);
    expect(h.status).toBe("warning");
    expect(h.reasons).toEqual(["Low disk space on the backup volume (4 % free)"]);
  });

  describe("metrics", () => {
    it("writes every metric with HELP and TYPE in the text format", async () => {
      insertBackup(app, ago(3), { sizeBytes: 2048 });
      insertDrill(app, ago(2), "passed", 1500);
      insertPlan(app, "0 3 * * *");
      const text = healthMetrics(await health());
      const expected: Record<string, number> = {
        baluhost_backup_last_success_timestamp_seconds: ago(3).getTime() / 1000,
        baluhost_backup_last_success_age_seconds: 3 * 3600,
        baluhost_backup_status: 0,
        baluhost_backups_total: 1,
        baluhost_backup_bytes_total: 2048,
        baluhost_backup_last_drill_success: 1,
        baluhost_backup_last_drill_duration_seconds: 1.5,
        baluhost_backup_volume_free_bytes: TOTAL / 2,
        baluhost_backup_next_run_timestamp_seconds: Date.parse("2026-03-02T03:00:00Z") / 1000,
      };
      for (const [name, value] of Object.entries(expected)) {
        expect(text).toContain(`# HELP ${name} `);
        expect(text).toContain(`# TYPE ${name} gauge\n${name} ${value}\n`);
      }
      expect(text.endsWith("\n")).toBe(true);
    });

    it("reports 2 and a zero last-success timestamp when nothing was ever backed up, and leaves out what does not exist", async () => {
      const text = healthMetrics(await health());
      expect(text).toContain("\nbaluhost_backup_status 2\n");
      expect(text).toContain("\nbaluhost_backup_last_success_timestamp_seconds 0\n");
      expect(text).not.toContain("baluhost_backup_last_drill_success");
      expect(text).not.toContain("baluhost_backup_next_run_timestamp_seconds");
    });
  });

  describe("over HTTP, with a monitoring token", () => {
    let monitoring: string;
    beforeEach(() => {
      monitoring = createApiToken(app.db, { userId: app.admin.id, name: "prometheus", scope: "monitoring" }).token;
    });

    it("GET /api/health/backups answers 200 with the health, critical included", async () => {
      const res = await healthRoute(restRequest("/api/health/backups", { token: monitoring }), noSegment());
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: "critical", summary: "No backup has been made yet" });
    });

    it("answers the fail_status code when critical, for uptime checkers that read only the code", async () => {
      const res = await healthRoute(restRequest("/api/health/backups?fail_status=503", { token: monitoring }), noSegment());
      expect(res.status).toBe(503);
      expect((await res.json()).status).toBe("critical");
    });

    it("answers 200 with fail_status when the status is not critical", async () => {
      insertBackup(app, new Date(Date.now() - HOUR));
      const res = await healthRoute(restRequest("/api/health/backups?fail_status=503", { token: monitoring }), noSegment());
      expect(res.status).toBe(200);
    });

    it("refuses a fail_status that is not an error code", async () => {
      const res = await healthRoute(restRequest("/api/health/backups?fail_status=200", { token: monitoring }), noSegment());
      expect(res.status).toBe(400);
      expect((await errorOf(res)).message).toMatch(/between 400 and 599/);
    });

    it("GET /api/metrics answers the Prometheus text format", async () => {
      const res = await metricsRoute(restRequest("/api/metrics", { token: monitoring }), noSegment());
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
      expect(await res.text()).toMatch(/^# HELP baluhost_backup_last_success_timestamp_seconds /);
    });

    it("is refused by the backup REST API with a 403 that says why", async () => {
      const res = await listBackupsRoute(restRequest("/api/backups", { token: monitoring }), noSegment());
      expect(res.status).toBe(403);
      expect((await errorOf(res)).message).toMatch(/monitoring scope: it can only read GET \/api\/health\/backups and GET \/api\/metrics/);
    });

    it("is refused by tRPC", async () => {
      const res = await trpcGet(new Request("http://localhost/api/trpc/backup.list", { headers: { authorization: `Bearer ${monitoring}` } }));
      expect(res.status).toBe(403);
      expect(JSON.stringify(await res.json())).toMatch(/monitoring scope/);
    });

    it("is refused by the download route, in the header and in ?token=", async () => {
      const backup = insertBackup(app, new Date());
      const byHeader = await downloadBackupRoute(restRequest(`/api/backups/${backup.id}/download`, { token: monitoring }), idSegment(backup.id));
      expect(byHeader.status).toBe(403);
      const byUrl = await downloadBackupRoute(restRequest(`/api/backups/${backup.id}/download?token=${monitoring}`), idSegment(backup.id));
      expect(byUrl.status).toBe(401);
    });

    it("accepts an admin's full token too, and refuses a normal user's", async () => {
      expect((await metricsRoute(restRequest("/api/metrics", { token: tokenFor(app, "admin") }), noSegment())).status).toBe(200);
      expect((await healthRoute(restRequest("/api/health/backups", { token: tokenFor(app, "user") }), noSegment())).status).toBe(403);
    });

    it("is made by the tokens router with scope monitoring, which the list shows", async () => {
      const created = await app.caller(app.admin).tokens.create({ name: "uptime", scope: "monitoring" });
      expect(created.scope).toBe("monitoring");
      expect((await app.caller(app.admin).tokens.list()).find((t) => t.id === created.id)?.scope).toBe("monitoring");
      expect((await healthRoute(restRequest("/api/health/backups", { token: created.token }), noSegment())).status).toBe(200);
      expect((await listBackupsRoute(restRequest("/api/backups", { token: created.token }), noSegment())).status).toBe(403);
    });

    it("answers 401 without a token", async () => {
      // A request without a bearer header reads the session, which needs Next's request scope: give an invalid token instead.
      expect((await metricsRoute(restRequest("/api/metrics", { token: "bh_not-a-token" }), noSegment())).status).toBe(401);
    });
  });
});
