import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { and, eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GET as getBackupRoute, DELETE as deleteBackupRoute } from "@/app/api/backups/[id]/route";
import { GET as listRoute, POST as createRoute } from "@/app/api/backups/route";
import { auditLog, backups } from "@/db/schema";
import { acquireOperationLock } from "@/server/backup/lock";
import { waitForBackup } from "@/server/backup/service";
import { downloadBackupRoute } from "@/server/http/backup-download";
import type { BackupList, BackupRecord } from "@/server/backup/contract";
import { sha256File, writeFiles, writeRandomFile } from "../helpers/files";
import { backupFolderNames, errorOf, idSegment, noSegment, restRequest, tokenFor } from "../helpers/rest";
import { createTestApp, type TestApp } from "../helpers/test-app";

const ARCHIVE_NAME = /^backup_\d{8}_\d{6}(_\d+)?\.tar\.gz$/;

describe("REST /api/backups", () => {
  let app: TestApp;
  let adminToken: string;
  let userToken: string;

  beforeEach(async () => {
    app = createTestApp();
    // Start-up recovery runs in the background and fails stray in_progress rows: let it finish first.
    await app.ready;
    adminToken = tokenFor(app, "admin");
    userToken = tokenFor(app, "user");
    writeFiles(app.config.storagePath, {
      "notes.txt": "hello\n",
      "photos/2024/beach.jpg": crypto.randomBytes(64 * 1024),
      "docs/plan.md": "# plan\n",
    });
  });

  afterEach(() => app.cleanup());

  function rows() {
    return app.db.select().from(backups).all();
  }

  function post(json: unknown, init: { token?: string; headers?: Record<string, string> } = {}) {
    return createRoute(
      restRequest("/api/backups", { method: "POST", token: init.token ?? adminToken, json, headers: init.headers }),
      noSegment(),
    );
  }

  async function createCompleted(): Promise<BackupRecord> {
    const res = await post({ backup_type: "full", wait: true });
    expect(res.status).toBe(201);
    const record = (await res.json()) as BackupRecord;
    expect(record.status).toBe("completed");
    return record;
  }

  function download(id: string | number, init: { token?: string; headers?: Record<string, string>; method?: string } = {}) {
    const req = restRequest(`/api/backups/${id}/download`, {
      method: init.method ?? "GET",
      token: init.token ?? adminToken,
      headers: init.headers,
    });
    return downloadBackupRoute(req, idSegment(id));
  }

  /** A row without a finished archive, as a running or failed backup leaves it. */
  function insertRow(status: "in_progress" | "failed") {
    return app.db
      .insert(backups)
      .values({
        filename: `backup_20250101_12000${status === "failed" ? 1 : 2}.tar.gz`,
        filepath: "informational",
        backupType: "full",
        status,
        includesDatabase: true,
        includesFiles: true,
        includesConfig: false,
        errorMessage: status === "failed" ? "The backup volume ran out of space." : null,
      })
      .returning()
      .get();
  }

  describe("authentication and authorization", () => {
    it("answers 401 to a request without credentials", async () => {
      const res = await listRoute(restRequest("/api/backups", { headers: { authorization: "Bearer" } }), noSegment());
      expect(res.status).toBe(401);
      expect((await errorOf(res)).code).toBe("UNAUTHORIZED");
    });

    it("answers 401 to an unknown token", async () => {
      const res = await listRoute(restRequest("/api/backups", { token: "bh_not-a-real-token" }), noSegment());
      expect(res.status).toBe(401);
    });

    it("answers 403 to a normal user's POST and creates nothing", async () => {
      const before = backupFolderNames(app);
      const res = await post({ backup_type: "full", wait: true }, { token: userToken });
      expect(res.status).toBe(403);
      expect((await errorOf(res)).code).toBe("FORBIDDEN");
      expect(rows()).toEqual([]);
      expect(backupFolderNames(app)).toEqual(before);
    });

    it("answers 403 to a normal user's list", async () => {
      const res = await listRoute(restRequest("/api/backups", { token: userToken }), noSegment());
      expect(res.status).toBe(403);
    });

    it("answers 403 to a normal user's DELETE and keeps the backup", async () => {
      const backup = await createCompleted();
      const res = await deleteBackupRoute(
        restRequest(`/api/backups/${backup.id}`, { method: "DELETE", token: userToken }),
        idSegment(backup.id),
      );
      expect(res.status).toBe(403);
      expect(rows()).toHaveLength(1);
      expect(fs.existsSync(path.join(app.config.backupPath, backup.filename))).toBe(true);
    });
  });

  describe("cross-site requests", () => {
    it.each([
      ["Sec-Fetch-Site: cross-site", { "sec-fetch-site": "cross-site" }],
      ["a foreign Origin", { origin: "http://evil.example" }],
    ])("refuses a POST with %s even from an admin, creating nothing", async (_, headers) => {
      const before = backupFolderNames(app);
      const res = await post({ backup_type: "full", wait: true }, { headers });
      expect(res.status).toBe(403);
      expect((await errorOf(res)).message).toMatch(/cross-site/i);
      expect(rows()).toEqual([]);
      expect(backupFolderNames(app)).toEqual(before);
    });

    it("refuses a cross-site DELETE and keeps the backup", async () => {
      const backup = await createCompleted();
      const res = await deleteBackupRoute(
        restRequest(`/api/backups/${backup.id}`, { method: "DELETE", token: adminToken, headers: { origin: "http://evil.example" } }),
        idSegment(backup.id),
      );
      expect(res.status).toBe(403);
      expect(fs.existsSync(path.join(app.config.backupPath, backup.filename))).toBe(true);
    });

    it("accepts a POST whose Origin is our own", async () => {
      const res = await post({ backup_type: "full", wait: true }, { headers: { origin: "http://localhost", "sec-fetch-site": "same-origin" } });
      expect(res.status).toBe(201);
    });
  });

  describe("POST /api/backups", () => {
    it("creates a full backup and answers 201 with the completed record in snake_case", async () => {
      const res = await post({ backup_type: "full", wait: true });
      expect(res.status).toBe(201);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toMatchObject({
        status: "completed",
        backup_type: "full",
        includes_database: true,
        includes_files: true,
        includes_config: false,
        creator_name: "admin",
        error_message: null,
      });
      expect(body.filename).toMatch(ARCHIVE_NAME);
      expect(body.size_bytes).toBe(fs.statSync(path.join(app.config.backupPath, body.filename as string)).size);
      expect(typeof body.size_mb).toBe("number");
      expect(new Date(body.created_at as string).toISOString()).toBe(body.created_at);
      expect(typeof body.completed_at).toBe("string");
      expect(Object.keys(body).filter((k) => /[A-Z]/.test(k))).toEqual([]);
    });

    it("answers 201 with the finished backup and its Location when the body does not say wait", async () => {
      const res = await post({ backup_type: "full" });
      expect(res.status).toBe(201);
      const body = (await res.json()) as BackupRecord;
      expect(body.status).toBe("completed");
      expect(res.headers.get("location")).toBe(`/api/backups/${body.id}`);
    });

    it("answers 202 at once with an in-progress record and its Location to Prefer: respond-async", async () => {
      const res = await post({ backup_type: "full" }, { headers: { prefer: "wait=5, respond-async" } });
      expect(res.status).toBe(202);
      expect(res.headers.get("preference-applied")).toBe("respond-async");
      const body = (await res.json()) as BackupRecord;
      expect(body.status).toBe("in_progress");
      expect(body.progress).not.toBeNull();
      expect(res.headers.get("location")).toBe(`/api/backups/${body.id}`);
      await waitForBackup(body.id);
      expect(rows()[0]?.status).toBe("completed");
    });

    it("answers 202 at once to wait: false", async () => {
      const res = await post({ backup_type: "full", wait: false });
      expect(res.status).toBe(202);
      const body = (await res.json()) as BackupRecord;
      expect(body.status).toBe("in_progress");
      await waitForBackup(body.id);
    });

    it("answers 400 to a body that is not JSON", async () => {
      const res = await createRoute(
        restRequest("/api/backups", {
          method: "POST",
          token: adminToken,
          body: "{ backup_type: full",
          headers: { "content-type": "application/json" },
        }),
        noSegment(),
      );
      expect(res.status).toBe(400);
      expect((await errorOf(res)).message).toMatch(/not valid JSON/);
      expect(rows()).toEqual([]);
    });

    it("answers 415 to a body that is not sent as JSON", async () => {
      const res = await createRoute(
        restRequest("/api/backups", { method: "POST", token: adminToken, body: "backup_type=full", headers: { "content-type": "text/plain" } }),
        noSegment(),
      );
      expect(res.status).toBe(415);
      expect(rows()).toEqual([]);
    });

    it("answers 400 explaining why to a database_only backup that asks for files", async () => {
      const res = await post({ backup_type: "database_only", includes_files: true });
      expect(res.status).toBe(400);
      expect((await errorOf(res)).message).toMatch(/database_only backup cannot include files/);
      expect(rows()).toEqual([]);
    });

    it("answers 400 naming the field to an unknown backup_type", async () => {
      const res = await post({ backup_type: "everything" });
      expect(res.status).toBe(400);
      const error = await errorOf(res);
      expect(error.code).toBe("BAD_REQUEST");
      expect(error.message).toMatch(/backup_type/);
      expect(rows()).toEqual([]);
    });

    it("answers 400 to an unknown field rather than ignoring it", async () => {
      const res = await post({ backup_type: "full", include_files: true });
      expect(res.status).toBe(400);
      expect(rows()).toEqual([]);
    });

    it("answers 409 while another operation holds the lock, creating nothing", async () => {
      await app.ready; // start-up recovery holds the lock for a moment
      const held = acquireOperationLock(app.config.backupPath, "backup", "a backup from the command line");
      let res: Response;
      try {
        res = await post({ backup_type: "full", wait: true });
      } finally {
        held.release();
      }
      expect(res.status).toBe(409);
      const error = await errorOf(res);
      expect(error.code).toBe("OPERATION_IN_PROGRESS");
      expect(error.message).toMatch(/another backup or restore is in progress/i);
      expect(rows()).toEqual([]);
    });
  });

  describe("GET /api/backups", () => {
    it("lists backups with their total size", async () => {
      const backup = await createCompleted();
      const res = await listRoute(restRequest("/api/backups", { token: adminToken }), noSegment());
      expect(res.status).toBe(200);
      const list = (await res.json()) as BackupList;
      expect(Object.keys(list).sort()).toEqual(["backups", "total_size_bytes", "total_size_mb"]);
      expect(list.backups.map((b) => b.id)).toEqual([backup.id]);
      expect(list.total_size_bytes).toBe(backup.size_bytes);
      expect(list.total_size_mb).toBe(Math.round((backup.size_bytes / 1024 / 1024) * 100) / 100);
    });

    it("lists nothing, with a total of zero, before the first backup", async () => {
      const res = await listRoute(restRequest("/api/backups", { token: adminToken }), noSegment());
      expect(await res.json()).toEqual({ backups: [], total_size_bytes: 0, total_size_mb: 0 });
    });
  });

  describe("GET and DELETE /api/backups/{id}", () => {
    it("answers a backup's record by id", async () => {
      const backup = await createCompleted();
      const res = await getBackupRoute(restRequest(`/api/backups/${backup.id}`, { token: adminToken }), idSegment(backup.id));
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ id: backup.id, filename: backup.filename, status: "completed" });
    });

    it("answers 400 to an id that is not a number", async () => {
      const res = await getBackupRoute(restRequest("/api/backups/abc", { token: adminToken }), idSegment("abc"));
      expect(res.status).toBe(400);
      expect((await errorOf(res)).code).toBe("BAD_REQUEST");
    });

    it("answers 404 naming the id of a backup that does not exist", async () => {
      const res = await getBackupRoute(restRequest("/api/backups/999", { token: adminToken }), idSegment(999));
      expect(res.status).toBe(404);
      expect((await errorOf(res)).message).toMatch(/\b999\b/);
    });

    it("deletes a backup with 204 and removes its archive from disk", async () => {
      const backup = await createCompleted();
      const archive = path.join(app.config.backupPath, backup.filename);
      expect(fs.existsSync(archive)).toBe(true);
      const res = await deleteBackupRoute(
        restRequest(`/api/backups/${backup.id}`, { method: "DELETE", token: adminToken }),
        idSegment(backup.id),
      );
      expect(res.status).toBe(204);
      expect(await res.text()).toBe("");
      expect(fs.existsSync(archive)).toBe(false);
      expect(rows()).toEqual([]);
    });

    it("answers 409 to deleting a backup that is still running, keeping its row", async () => {
      const row = insertRow("in_progress");
      const res = await deleteBackupRoute(restRequest(`/api/backups/${row.id}`, { method: "DELETE", token: adminToken }), idSegment(row.id));
      expect(res.status).toBe(409);
      expect((await errorOf(res)).message).toMatch(/still being made/);
      expect(rows()).toHaveLength(1);
    });

    it("answers 404 to deleting the same backup twice", async () => {
      const backup = await createCompleted();
      const del = () =>
        deleteBackupRoute(restRequest(`/api/backups/${backup.id}`, { method: "DELETE", token: adminToken }), idSegment(backup.id));
      expect((await del()).status).toBe(204);
      const second = await del();
      expect(second.status).toBe(404);
      expect((await errorOf(second)).message).toContain(String(backup.id));
    });
  });

  describe("GET /api/backups/{id}/download", () => {
    it("streams the archive with its headers, byte for byte", async () => {
      const backup = await createCompleted();
      const archive = path.join(app.config.backupPath, backup.filename);
      const stat = fs.statSync(archive);
      const res = await download(backup.id);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/gzip");
      expect(res.headers.get("content-length")).toBe(String(stat.size));
      expect(res.headers.get("content-disposition")).toMatch(new RegExp(`^attachment; filename="${backup.filename.replace(/\./g, "\\.")}"`));
      expect(res.headers.get("etag")).toBe(`"${backup.sha256}"`);
      expect(res.headers.get("last-modified")).toBe(stat.mtime.toUTCString());
      expect(res.headers.get("accept-ranges")).toBe("bytes");
      const body = Buffer.from(await res.arrayBuffer());
      expect(crypto.createHash("sha256").update(body).digest("hex")).toBe(sha256File(archive));
    });

    it("answers a range with 206 and exactly those bytes", async () => {
      const backup = await createCompleted();
      const onDisk = fs.readFileSync(path.join(app.config.backupPath, backup.filename));
      const res = await download(backup.id, { headers: { range: "bytes=0-99" } });
      expect(res.status).toBe(206);
      expect(res.headers.get("content-range")).toBe(`bytes 0-99/${onDisk.length}`);
      expect(res.headers.get("content-length")).toBe("100");
      expect(Buffer.from(await res.arrayBuffer()).equals(onDisk.subarray(0, 100))).toBe(true);
    });

    it("answers a range beyond the end with 416 and the real size", async () => {
      const backup = await createCompleted();
      const size = fs.statSync(path.join(app.config.backupPath, backup.filename)).size;
      const res = await download(backup.id, { headers: { range: `bytes=${size + 10}-` } });
      expect(res.status).toBe(416);
      expect(res.headers.get("content-range")).toBe(`bytes */${size}`);
      expect((await errorOf(res)).code).toBe("RANGE_NOT_SATISFIABLE");
    });

    it("answers HEAD with the size and no body", async () => {
      const backup = await createCompleted();
      const res = await download(backup.id, { method: "HEAD" });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-length")).toBe(String(backup.size_bytes));
      expect(res.body).toBeNull();
    });

    it("answers 403 to a normal user, sending nothing of the archive", async () => {
      const backup = await createCompleted();
      const res = await download(backup.id, { token: userToken });
      expect(res.status).toBe(403);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(res.headers.get("content-disposition")).toBeNull();
    });

    it.each(["in_progress", "failed"] as const)("answers 409 to the download of a backup that is %s", async (status) => {
      const row = insertRow(status);
      const res = await download(row.id);
      expect(res.status).toBe(409);
      expect((await errorOf(res)).message).toMatch(/only completed backups can be downloaded/);
    });

    it("answers 404 when a completed backup's archive was removed from disk", async () => {
      const backup = await createCompleted();
      fs.rmSync(path.join(app.config.backupPath, backup.filename));
      const res = await download(backup.id);
      expect(res.status).toBe(404);
      expect((await errorOf(res)).message).toContain(backup.filename);
    });

    it("answers 404 naming the id of a backup that does not exist", async () => {
      const res = await download(999);
      expect(res.status).toBe(404);
      expect((await errorOf(res)).message).toMatch(/\b999\b/);
    });

    it("records the download in the audit log with the actor's name", async () => {
      const backup = await createCompleted();
      const res = await download(backup.id, { headers: { "user-agent": "curl/8.0", "x-forwarded-for": "192.0.2.7" } });
      await res.arrayBuffer();
      const entries = app.db.select().from(auditLog).where(eq(auditLog.action, "backup.download")).all();
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({
        actorName: "admin",
        actorId: app.admin.id,
        resource: `backup:${backup.id}`,
        success: true,
        ip: "192.0.2.7",
        userAgent: "curl/8.0",
      });
    });

    it("does not audit a resumed download again for each later range", async () => {
      const backup = await createCompleted();
      await (await download(backup.id, { headers: { range: "bytes=0-99" } })).arrayBuffer();
      await (await download(backup.id, { headers: { range: "bytes=100-" } })).arrayBuffer();
      const entries = app.db
        .select()
        .from(auditLog)
        .where(and(eq(auditLog.action, "backup.download"), eq(auditLog.success, true)))
        .all();
      expect(entries).toHaveLength(1);
    });

    it("keeps memory flat while streaming a large archive", { timeout: 300_000 }, async () => {
      const SIZE = 200 * 1024 * 1024;
      writeRandomFile(path.join(app.config.storagePath, "video.bin"), SIZE);
      const backup = await createCompleted();
      expect(backup.size_bytes).toBeGreaterThan(SIZE);
      // Measured before the handler runs, so a handler that buffers the file counts too.
      const baseline = process.memoryUsage().rss;
      const res = await download(backup.id);
      expect(res.status).toBe(200);

      const reader = res.body!.getReader();
      const hash = crypto.createHash("sha256");
      let peak = baseline;
      let received = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        hash.update(value);
        received += value.byteLength;
        peak = Math.max(peak, process.memoryUsage().rss);
        // A slow client: the server must wait for it, not read ahead into memory.
        if (received % (16 * 1024 * 1024) < value.byteLength) await new Promise((r) => setTimeout(r, 20));
      }
      expect(received).toBe(backup.size_bytes);
      expect(hash.digest("hex")).toBe(backup.sha256);
      const growthMb = (peak - baseline) / 1024 / 1024;
      expect(growthMb, `rss grew ${growthMb.toFixed(1)} MB while streaming ${SIZE / 1024 / 1024} MB`).toBeLessThan(100);
    });
  });
});
