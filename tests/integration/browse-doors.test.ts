import fs from "node:fs";
import path from "node:path";
import { desc, eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { auditLog } from "@/db/schema";
import { backupFileRoute, diffTreeRoute, folderArchiveRoute, listTreeRoute, restorePathsRoute, restorePlanRoute, searchTreeRoute } from "@/server/http/browse-routes";
import { writeFiles } from "../helpers/files";
import { errorOf, idSegment, restRequest, tokenFor } from "../helpers/rest";
import { createTestApp, type TestApp } from "../helpers/test-app";

describe("browse doors: tRPC and REST", () => {
  let app: TestApp;
  let id: number;
  const store = (rel: string) => path.join(app.config.storagePath, rel);

  beforeEach(async () => {
    app = createTestApp();
    writeFiles(app.config.storagePath, { "alice/docs/plan.txt": "the plan\n", "alice/ä b.txt": "umlaut\n", "bob/b.txt": "b\n" });
    id = (await app.caller(app.admin).backup.create({ backup_type: "full", wait: true })).id;
  });
  afterEach(() => app.cleanup());

  it("tRPC: lists, searches, compares and restores a folder; refused to non-admins", async () => {
    const admin = app.caller(app.admin);
    const page = await admin.browse.list({ backup_id: id, path: "files/alice", limit: 1 });
    expect(page.total).toBe(2);
    expect(page.entries.map((e) => e.name)).toEqual(["docs"]);
    expect((await admin.browse.search({ backup_id: id, query: "plan" })).entries.map((e) => e.path)).toEqual(["files/alice/docs/plan.txt"]);
    fs.rmSync(store("alice/docs"), { recursive: true });
    const diff = await admin.browse.diff({ backup_id: id, path: "files/alice" });
    expect(diff.entries).toEqual([expect.objectContaining({ name: "docs", status: "deleted" })]);
    expect((await admin.browse.users({ backup_id: id })).users.map((u) => u.username)).toEqual(["alice"]);

    const plan = await admin.browse.restorePlan({ backup_id: id, paths: ["files/alice/docs"] });
    expect(plan.files).toBe(1);
    const done = await admin.browse.restore({ backup_id: id, paths: ["files/alice/docs"], confirm: true });
    expect(done.restored_files).toBe(1);
    expect(fs.readFileSync(store("alice/docs/plan.txt"), "utf8")).toBe("the plan\n");

    const user = app.caller(app.user);
    await expect(user.browse.list({ backup_id: id, path: "" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(user.browse.restore({ backup_id: id, paths: ["files/bob"], confirm: true })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(admin.browse.restore({ backup_id: id, paths: ["../../etc"], confirm: true })).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });

  it("REST: lists a folder and searches; a non-admin gets 403, a hostile path 400, a missing one 404", async () => {
    const token = tokenFor(app, "admin");
    const res = await listTreeRoute(restRequest(`/api/backups/${id}/tree?path=files`, { token }), idSegment(id));
    expect(res.status).toBe(200);
    expect(((await res.json()) as { entries: Array<{ name: string }> }).entries.map((e) => e.name)).toEqual(["alice", "bob"]);
    const found = await searchTreeRoute(restRequest(`/api/backups/${id}/tree/search?q=${encodeURIComponent("ä")}`, { token }), idSegment(id));
    expect(((await found.json()) as { entries: Array<{ path: string }> }).entries.map((e) => e.path)).toEqual(["files/alice/ä b.txt"]);

    const forbidden = await listTreeRoute(restRequest(`/api/backups/${id}/tree`, { token: tokenFor(app, "user") }), idSegment(id));
    expect(forbidden.status).toBe(403);
    const hostile = await diffTreeRoute(restRequest(`/api/backups/${id}/tree/diff?path=${encodeURIComponent("/etc")}`, { token }), idSegment(id));
    expect(hostile.status).toBe(400);
    expect((await errorOf(hostile)).message).toContain("relative to the backup");
    const missing = await listTreeRoute(restRequest(`/api/backups/${id}/tree?path=files/carol`, { token }), idSegment(id));
    expect(missing.status).toBe(404);
  });

  it("REST: downloads one file with its length and a folder as tar.gz, both audited", async () => {
    const token = tokenFor(app, "admin");
    const res = await backupFileRoute(restRequest(`/api/backups/${id}/file?path=${encodeURIComponent("files/alice/ä b.txt")}`, { token }), idSegment(id));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe("7");
    expect(res.headers.get("content-disposition")).toContain("filename*=UTF-8''%C3%A4%20b.txt");
    expect(await res.text()).toBe("umlaut\n");
    const folder = await folderArchiveRoute(restRequest(`/api/backups/${id}/folder?path=files/alice`, { token }), idSegment(id));
    expect(folder.status).toBe(200);
    expect(Buffer.from(await folder.arrayBuffer()).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const audits = app.db.select().from(auditLog).where(eq(auditLog.action, "backup.download_path")).orderBy(desc(auditLog.id)).all();
    expect(audits.map((a) => (a.details as { path: string }).path)).toEqual(["files/alice", "files/alice/ä b.txt"]);
    const notAdmin = await backupFileRoute(restRequest(`/api/backups/${id}/file?path=files/bob/b.txt`, { token: tokenFor(app, "user") }), idSegment(id));
    expect(notAdmin.status).toBe(403);
  });

  it("REST: plans, then restores into a side folder only with confirm", async () => {
    const token = tokenFor(app, "admin");
    const body = { paths: ["files/bob"], destination: "folder", folder: "restored/bob-then" };
    const plan = await restorePlanRoute(restRequest(`/api/backups/${id}/restore-paths/plan`, { token, method: "POST", json: body }), idSegment(id));
    expect(plan.status).toBe(200);
    expect(((await plan.json()) as { root: string }).root).toBe("restored/bob-then");
    const unconfirmed = await restorePathsRoute(restRequest(`/api/backups/${id}/restore-paths`, { token, method: "POST", json: body }), idSegment(id));
    expect(unconfirmed.status).toBe(400);
    expect(fs.existsSync(store("restored"))).toBe(false);
    const res = await restorePathsRoute(restRequest(`/api/backups/${id}/restore-paths`, { token, method: "POST", json: { ...body, confirm: true } }), idSegment(id));
    expect(res.status).toBe(200);
    expect(fs.readFileSync(store("restored/bob-then/bob/b.txt"), "utf8")).toBe("b\n");
  });
});
