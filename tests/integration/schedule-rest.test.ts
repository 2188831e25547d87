/** REST /api/backups/schedules through the route handlers' exported functions, with API tokens. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DELETE as deletePlanRoute, GET as getPlanRoute, PATCH as patchPlanRoute, POST as postOnPlan } from "@/app/api/backups/schedules/[id]/route";
import { POST as runPlanRoute } from "@/app/api/backups/schedules/[id]/run/route";
import { GET as listPlansRoute, POST as createPlanRoute, PUT as putPlans } from "@/app/api/backups/schedules/route";
import { auditLog, backupPlans, backups } from "@/db/schema";
import type { BackupRecord } from "@/server/backup/contract";
import { acquireOperationLock } from "@/server/backup/lock";
import { planRunsSettled } from "@/server/backup/schedule/runs";
import type { PlanRecord } from "@/server/backup/schedule/plans";
import { writeFiles } from "../helpers/files";
import { errorOf, idSegment, noSegment, restRequest, tokenFor } from "../helpers/rest";
import { createTestApp, type TestApp } from "../helpers/test-app";

let app: TestApp;
let adminToken: string;
let userToken: string;

beforeEach(async () => {
  app = createTestApp();
  await app.ready;
  adminToken = tokenFor(app, "admin");
  userToken = tokenFor(app, "user");
  writeFiles(app.config.storagePath, { "a.txt": "alpha\n" });
});
afterEach(async () => {
  await planRunsSettled();
  await app.cleanup();
});

const nightly = { name: "Nightly", backup_type: "full", cron: "0 3 * * *", timezone: "UTC" };

function create(json: unknown, token = adminToken) {
  return createPlanRoute(restRequest("/api/backups/schedules", { method: "POST", token, json }), noSegment());
}

async function created(json: unknown = nightly): Promise<PlanRecord> {
  const res = await create(json);
  expect(res.status).toBe(201);
  return (await res.json()) as PlanRecord;
}

describe("REST /api/backups/schedules", () => {
  it("creates a plan: 201, Location, the plan", async () => {
    const res = await create(nightly);
    expect(res.status).toBe(201);
    const plan = (await res.json()) as PlanRecord;
    expect(res.headers.get("location")).toBe(`/api/backups/schedules/${plan.id}`);
    expect(plan).toMatchObject({ name: "Nightly", schedule_text: "Daily at 03:00", drill_cron: "0 4 * * 0" });
  });

  it("lists the plans", async () => {
    const plan = await created();
    const res = await listPlansRoute(restRequest("/api/backups/schedules", { token: adminToken }), noSegment());
    expect(res.status).toBe(200);
    expect(((await res.json()) as { plans: PlanRecord[] }).plans.map((p) => p.id)).toEqual([plan.id]);
  });

  it("refuses a bad cron expression with 400 quoting it and an example", async () => {
    const res = await create({ ...nightly, cron: "0 3 * * mon-sun-x" });
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.message).toMatch(/^cron: "0 3 \* \* mon-sun-x" is not a valid cron expression .*e\.g\. "0 3 \* \* \*"/);
    expect(app.db.select().from(backupPlans).all()).toEqual([]);
  });

  it("refuses a duplicate name with 409", async () => {
    await created();
    const res = await create(nightly);
    expect(res.status).toBe(409);
    expect((await errorOf(res)).message).toMatch(/already exists/);
  });

  it("answers 405 with Allow for a method it does not have", async () => {
    const res = await putPlans(restRequest("/api/backups/schedules", { method: "PUT", token: adminToken }));
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, POST, HEAD, OPTIONS");
  });

  it("refuses a normal user's create with 403 and creates nothing", async () => {
    const auditBefore = app.db.select().from(auditLog).all().length;
    const res = await create(nightly, userToken);
    expect(res.status).toBe(403);
    expect(app.db.select().from(backupPlans).all()).toEqual([]);
    expect(app.db.select().from(auditLog).all()).toHaveLength(auditBefore);
  });
});

describe("REST /api/backups/schedules/{id}", () => {
  it("gets one plan", async () => {
    const plan = await created();
    const res = await getPlanRoute(restRequest(`/api/backups/schedules/${plan.id}`, { token: adminToken }), idSegment(plan.id));
    expect(res.status).toBe(200);
    expect(((await res.json()) as PlanRecord).name).toBe("Nightly");
  });

  it("answers 404 naming the id for a plan that does not exist", async () => {
    const res = await getPlanRoute(restRequest("/api/backups/schedules/77", { token: adminToken }), idSegment(77));
    expect(res.status).toBe(404);
    expect((await errorOf(res)).message).toMatch(/no backup plan 77/);
  });

  it("answers 400 for an id that is not a number", async () => {
    const res = await getPlanRoute(restRequest("/api/backups/schedules/abc", { token: adminToken }), idSegment("abc"));
    expect(res.status).toBe(400);
  });

  it("changes a plan with PATCH", async () => {
    const plan = await created();
    const res = await patchPlanRoute(
      restRequest(`/api/backups/schedules/${plan.id}`, { method: "PATCH", token: adminToken, json: { enabled: false, drill_cron: null } }),
      idSegment(plan.id),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ enabled: false, drill_cron: null, next_run_at: null });
  });

  it("refuses a PATCH field the plan does not have", async () => {
    const plan = await created();
    const res = await patchPlanRoute(
      restRequest(`/api/backups/schedules/${plan.id}`, { method: "PATCH", token: adminToken, json: { every: "day" } }),
      idSegment(plan.id),
    );
    expect(res.status).toBe(400);
  });

  it("deletes a plan: 204", async () => {
    const plan = await created();
    const res = await deletePlanRoute(restRequest(`/api/backups/schedules/${plan.id}`, { method: "DELETE", token: adminToken }), idSegment(plan.id));
    expect(res.status).toBe(204);
    expect(app.db.select().from(backupPlans).all()).toEqual([]);
  });

  it("refuses a normal user's delete with 403 and keeps the plan", async () => {
    const plan = await created();
    const res = await deletePlanRoute(restRequest(`/api/backups/schedules/${plan.id}`, { method: "DELETE", token: userToken }), idSegment(plan.id));
    expect(res.status).toBe(403);
    expect(app.db.select().from(backupPlans).all()).toHaveLength(1);
  });

  it("answers 405 for POST on a plan", async () => {
    const res = await postOnPlan(restRequest("/api/backups/schedules/1", { method: "POST", token: adminToken }));
    expect(res.status).toBe(405);
  });
});

describe("REST /api/backups/schedules/{id}/run", () => {
  it("starts the plan's backup: 202, Location of the backup, recorded on the plan when done", async () => {
    const plan = await created();
    const res = await runPlanRoute(restRequest(`/api/backups/schedules/${plan.id}/run`, { method: "POST", token: adminToken }), idSegment(plan.id));
    expect(res.status).toBe(202);
    const backup = (await res.json()) as BackupRecord;
    expect(res.headers.get("location")).toBe(`/api/backups/${backup.id}`);
    await planRunsSettled();
    expect(app.db.select().from(backupPlans).get()).toMatchObject({ lastResult: "ok", lastBackupId: backup.id });
    expect(app.db.select().from(backups).get()).toMatchObject({ status: "completed", verifyStatus: "ok", planName: "Nightly" });
  });

  it("answers 409 while another operation holds the lock", async () => {
    const plan = await created();
    const lock = acquireOperationLock(app.config.backupPath, "backup", "full backup by cli:root");
    try {
      const res = await runPlanRoute(restRequest(`/api/backups/schedules/${plan.id}/run`, { method: "POST", token: adminToken }), idSegment(plan.id));
      expect(res.status).toBe(409);
      expect((await errorOf(res)).code).toBe("OPERATION_IN_PROGRESS");
    } finally {
      lock.release();
    }
    expect(app.db.select().from(backups).all()).toEqual([]);
  });

  it("refuses a normal user with 403 and starts nothing", async () => {
    const plan = await created();
    const res = await runPlanRoute(restRequest(`/api/backups/schedules/${plan.id}/run`, { method: "POST", token: userToken }), idSegment(plan.id));
    expect(res.status).toBe(403);
    expect(app.db.select().from(backups).all()).toEqual([]);
  });
});
