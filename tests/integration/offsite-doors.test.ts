/**
 * The offsite doors: tRPC and REST refuse non-admins and change nothing, keys go in and never
 * come out (API answers, audit log, database file), and a copy requested over REST is
 * followed to verified, listed from the bucket, brought back and protected by the chain rule.
 */
import fs from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GET as copiesRoute, POST as copyNowRoute } from "@/app/api/backups/[id]/offsite/route";
import { POST as importRoute } from "@/app/api/offsite/targets/[id]/backups/[filename]/import/route";
import { DELETE as remoteDeleteRoute } from "@/app/api/offsite/targets/[id]/backups/[filename]/route";
import { GET as remoteListRoute } from "@/app/api/offsite/targets/[id]/backups/route";
import { GET as getTargetRoute } from "@/app/api/offsite/targets/[id]/route";
import { POST as testRoute } from "@/app/api/offsite/targets/[id]/test/route";
import { POST as createTargetRoute } from "@/app/api/offsite/targets/route";
import { auditLog, offsiteTargets } from "@/db/schema";
import { createBackup, deleteBackup } from "@/server/backup/service";
import { drainOffsiteQueue } from "@/server/backup/targets/copy-queue";
import { registerBackupCommands } from "@/server/cli/backups";
import { runCliInProcess } from "../helpers/cli";
import { writeFiles } from "../helpers/files";
import { idSegment, noSegment, restRequest, tokenFor } from "../helpers/rest";
import { dropBucket, freshBucket, s3Endpoint, targetInput } from "../helpers/s3";
import { createTestApp, type TestApp } from "../helpers/test-app";

const fileSegment = (id: number, filename: string) => ({ params: Promise.resolve({ id: String(id), filename }) });

describe.skipIf(!s3Endpoint)("offsite doors (tRPC, REST)", () => {
  let app: TestApp;
  let bucket: string;
  beforeEach(async () => {
    app = createTestApp();
    await app.ready;
    writeFiles(app.config.storagePath, { "a.txt": "alpha\n" });
    bucket = await freshBucket();
  });
  afterEach(async () => {
    await app.cleanup();
    await dropBucket(bucket);
  });

  it("refuses a normal user on tRPC and REST and saves nothing", async () => {
    await expect(app.caller(app.user).offsite.createTarget(targetInput(bucket))).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(app.caller(app.user).offsite.targets()).rejects.toMatchObject({ code: "FORBIDDEN" });
    const res = await createTargetRoute(restRequest("/api/offsite/targets", { method: "POST", token: tokenFor(app, "user"), json: targetInput(bucket) }), noSegment());
    expect(res.status).toBe(403);
    expect(app.db.select().from(offsiteTargets).all()).toEqual([]);
  });

  it("takes the keys over REST, answers has_secret only, and keeps them out of the audit log and the database", async () => {
    const token = tokenFor(app, "admin");
    const res = await createTargetRoute(restRequest("/api/offsite/targets", { method: "POST", token, json: targetInput(bucket) }), noSegment());
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: number; has_secret: boolean };
    expect(res.headers.get("location")).toBe(`/api/offsite/targets/${created.id}`);
    const fetched = await (await getTargetRoute(restRequest(`/api/offsite/targets/${created.id}`, { token }), idSegment(created.id))).text();
    const tested = await (await testRoute(restRequest(`/api/offsite/targets/${created.id}/test`, { method: "POST", token }), idSegment(created.id))).json();
    expect(tested).toMatchObject({ ok: true });
    app.db.$client.pragma("wal_checkpoint(TRUNCATE)");
    const everything = [fetched, JSON.stringify(app.db.select().from(auditLog).all()), fs.readFileSync(app.config.databasePath).toString("latin1")].join("\n");
    expect(everything).not.toContain(s3Endpoint!.secretAccessKey);
    expect(everything).not.toContain(s3Endpoint!.accessKeyId);
    expect(JSON.parse(fetched)).toMatchObject({ has_secret: true, bucket, prefix: "nas/backups" });
    expect(app.db.select().from(auditLog).all().map((a) => a.action)).toEqual(expect.arrayContaining(["offsite.target_create", "offsite.target_test"]));
  });

  it("copies on request, lists the bucket, brings a deleted backup back, and refuses to delete a remote full an incremental needs", async () => {
    const token = tokenFor(app, "admin");
    const target = await app.caller(app.admin).offsite.createTarget({ ...targetInput(bucket), enabled: false });
    const actor = { id: app.admin.id, username: "admin" };
    const full = await createBackup({ db: app.db, config: app.config, actor, input: { backup_type: "full", wait: true } });
    writeFiles(app.config.storagePath, { "b.txt": "beta\n" });
    const inc = await createBackup({ db: app.db, config: app.config, actor, input: { backup_type: "incremental", wait: true } });
    // Switched off: nothing is queued, and asking for a copy says why.
    await drainOffsiteQueue({ db: app.db, config: app.config });
    expect(await app.caller(app.admin).offsite.copies()).toEqual([]);
    const refused = await copyNowRoute(restRequest(`/api/backups/${inc.id}/offsite`, { method: "POST", token }), idSegment(inc.id));
    expect(refused.status).toBe(409);

    await app.caller(app.admin).offsite.updateTarget({ id: target.id, enabled: true });
    const queued = await copyNowRoute(restRequest(`/api/backups/${inc.id}/offsite`, { method: "POST", token, json: { target_id: target.id } }), idSegment(inc.id));
    expect(queued.status).toBe(202);
    await drainOffsiteQueue({ db: app.db, config: app.config });
    const states = (await (await copiesRoute(restRequest(`/api/backups/${inc.id}/offsite`, { token }), idSegment(inc.id))).json()) as { copies: { status: string }[] };
    expect(states.copies).toEqual([expect.objectContaining({ status: "verified", target_name: target.name })]);
    // The incremental's full went up with it, so the remote chain restores on its own.
    expect((await app.caller(app.admin).offsite.copies()).map((c) => [c.backup_id, c.status])).toEqual([
      [full.id, "verified"],
      [inc.id, "verified"],
    ]);

    const status = await runCliInProcess(["backup", "remote", "status", String(inc.id)], { groups: [registerBackupCommands] });
    expect(status.stdout).toMatch(new RegExp(`${inc.id}\\s+${target.name}\\s+verified`));

    const listed = (await (await remoteListRoute(restRequest(`/api/offsite/targets/${target.id}/backups`, { token }), idSegment(target.id))).json()) as {
      backups: { filename: string; local_backup_id: number | null }[];
    };
    expect(listed.backups.map((b) => [b.filename, b.local_backup_id])).toEqual([
      [inc.filename, inc.id],
      [full.filename, full.id],
    ]);

    const blocked = await remoteDeleteRoute(restRequest(`/api/offsite/targets/${target.id}/backups/${full.filename}`, { method: "DELETE", token }), fileSegment(target.id, full.filename));
    expect(blocked.status).toBe(409);
    expect(((await blocked.json()) as { error: { message: string } }).error.message).toContain(inc.filename);

    // Deleted here: the remote copy stays, and comes back verified.
    await deleteBackup({ db: app.db, config: app.config, actor, id: inc.id });
    expect((await app.caller(app.admin).offsite.remoteList({ id: target.id })).map((b) => b.filename)).toContain(inc.filename);
    const imported = await importRoute(restRequest(`/api/offsite/targets/${target.id}/backups/${inc.filename}/import`, { method: "POST", token }), fileSegment(target.id, inc.filename));
    expect(imported.status).toBe(201);
    const body = (await imported.json()) as { backups: { id: number; backup_type: string; parent_id: number | null; origin: string }[] };
    expect(body.backups).toEqual([
      expect.objectContaining({ id: full.id }),
      expect.objectContaining({ backup_type: "incremental", parent_id: full.id, origin: "imported" }),
    ]);
  });
});
