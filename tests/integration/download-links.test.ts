/**
 * Download links and `?token=` through REST, with the real BaluHost client's request
 * shapes: a POST without a body for the link, then a plain GET of the URL with no header
 * (as `<a href>` does), and API tokens in `?token=`.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GET as getBackupRoute } from "@/app/api/backups/[id]/route";
import { POST as verifyRoute } from "@/app/api/backups/[id]/verify/route";
import { POST as linkRoute, GET as getLinkRoute } from "@/app/api/backups/[id]/download-link/route";
import { GET as listRoute, POST as createRoute } from "@/app/api/backups/route";
import { auditLog, backups, users } from "@/db/schema";
import { issueDownloadTicket, TICKET_LIFETIME_MS, ticketKey } from "@/server/auth/download-tickets";
import type { BackupRecord } from "@/server/backup/contract";
import { resolveAuthSecret } from "@/server/config";
import { downloadBackupRoute } from "@/server/http/backup-download";
import type { RouteTransport } from "@/server/http/route-handler";
import { sha256File, writeFiles } from "../helpers/files";
import { BASE_URL, errorOf, idSegment, noSegment, restRequest, tokenFor } from "../helpers/rest";
import { createTestApp, type TestApp } from "../helpers/test-app";

/** No session cookie: what a request without any credential has. */
const NO_SESSION: RouteTransport = { readSession: async () => null };

describe("download links", () => {
  let app: TestApp;
  let adminToken: string;
  let userToken: string;
  let backup: BackupRecord;

  beforeEach(async () => {
    app = createTestApp();
    await app.ready;
    adminToken = tokenFor(app, "admin");
    userToken = tokenFor(app, "user");
    writeFiles(app.config.storagePath, { "notes.txt": "hello\n", "photos/a.jpg": crypto.randomBytes(32 * 1024) });
    const res = await createRoute(restRequest("/api/backups", { method: "POST", token: adminToken, json: { backup_type: "full", wait: true } }), noSegment());
    backup = (await res.json()) as BackupRecord;
    expect(backup.status).toBe("completed");
  });

  afterEach(() => app.cleanup());

  const archive = () => path.join(app.config.backupPath, backup.filename);
  const key = () => ticketKey(resolveAuthSecret(app.config));

  async function link(id: number = backup.id, token = adminToken): Promise<Response> {
    // axios's POST without data: no body, no Content-Type.
    return linkRoute(restRequest(`/api/backups/${id}/download-link`, { method: "POST", token }), idSegment(id));
  }

  async function urlOf(id: number = backup.id): Promise<string> {
    const res = await link(id);
    expect(res.status).toBe(201);
    return ((await res.json()) as { url: string }).url;
  }

  /** A plain GET of a URL, as a browser following `<a href>`: no Authorization, no cookie. */
  function follow(url: string, init: { method?: string; headers?: Record<string, string>; id?: number } = {}): Promise<Response> {
    const req = new Request(new URL(url, BASE_URL), { method: init.method ?? "GET", headers: init.headers });
    const id = init.id ?? Number(new URL(url, BASE_URL).pathname.split("/")[3]);
    return downloadBackupRoute(req, idSegment(id), NO_SESSION);
  }

  function ticket(overrides: Partial<{ backupId: number; filename: string; userId: number; username: string; now: Date }> = {}): string {
    return issueDownloadTicket(key(), {
      backupId: backup.id,
      filename: backup.filename,
      userId: app.admin.id,
      username: app.admin.username,
      ...overrides,
    }).ticket;
  }

  const withToken = (token: string, id = backup.id) => `/api/backups/${id}/download?token=${encodeURIComponent(token)}`;

  describe("POST /api/backups/{id}/download-link", () => {
    it("answers 201 with a download URL and an expiry about five minutes away", async () => {
      const before = Date.now();
      const res = await link();
      expect(res.status).toBe(201);
      const body = (await res.json()) as { url: string; expires_at: string };
      expect(body.url).toMatch(new RegExp(`^/api/backups/${backup.id}/download\\?token=bhdl_`));
      const lifetime = Date.parse(body.expires_at) - before;
      expect(lifetime).toBeGreaterThan(TICKET_LIFETIME_MS - 2000);
      expect(lifetime).toBeLessThanOrEqual(TICKET_LIFETIME_MS);
    });

    it("answers 403 to a normal user and makes no link", async () => {
      const res = await link(backup.id, userToken);
      expect(res.status).toBe(403);
      expect((await errorOf(res)).code).toBe("FORBIDDEN");
    });

    it("answers 404 naming an id that does not exist", async () => {
      const res = await link(999);
      expect(res.status).toBe(404);
      expect((await errorOf(res)).message).toMatch(/\b999\b/);
    });

    it("answers 409 for a backup that is not completed", async () => {
      app.db.update(backups).set({ status: "failed" }).where(eq(backups.id, backup.id)).run();
      const res = await link();
      expect(res.status).toBe(409);
      expect((await errorOf(res)).message).toMatch(/only completed backups can be downloaded/);
    });

    it("answers 404 when the archive is missing from disk, making no link", async () => {
      fs.rmSync(archive());
      const res = await link();
      expect(res.status).toBe(404);
      expect((await errorOf(res)).message).toContain(backup.filename);
      expect(app.db.select().from(auditLog).where(eq(auditLog.action, "backup.download_link")).all()).toEqual([]);
    });

    it("answers a GET with a JSON 405 that lists the allowed methods", async () => {
      const res = getLinkRoute(restRequest(`/api/backups/${backup.id}/download-link`, { token: adminToken }));
      expect(res.status).toBe(405);
      expect(res.headers.get("allow")).toBe("POST, OPTIONS");
      expect((await errorOf(res)).code).toBe("METHOD_NOT_ALLOWED");
    });

    it("is the same ticket over tRPC: backup.downloadLink", async () => {
      const { url } = await app.caller(app.admin).backup.downloadLink({ id: backup.id });
      const res = await follow(url);
      expect(res.status).toBe(200);
      expect(crypto.createHash("sha256").update(Buffer.from(await res.arrayBuffer())).digest("hex")).toBe(sha256File(archive()));
    });
  });

  describe("following the link", () => {
    it("streams the archive with no header at all, with its length", async () => {
      const res = await follow(await urlOf());
      expect(res.status).toBe(200);
      expect(res.headers.get("content-length")).toBe(String(fs.statSync(archive()).size));
      expect(crypto.createHash("sha256").update(Buffer.from(await res.arrayBuffer())).digest("hex")).toBe(sha256File(archive()));
    });

    it("resumes with a Range request on the same link within its lifetime", async () => {
      const url = await urlOf();
      await (await follow(url, { headers: { range: "bytes=0-99" } })).arrayBuffer();
      const res = await follow(url, { headers: { range: "bytes=100-" } });
      expect(res.status).toBe(206);
      expect(Buffer.from(await res.arrayBuffer()).equals(fs.readFileSync(archive()).subarray(100))).toBe(true);
    });

    it("answers HEAD with the size", async () => {
      const res = await follow(await urlOf(), { method: "HEAD" });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-length")).toBe(String(backup.size_bytes));
    });

    it("sends Referrer-Policy: no-referrer, on success and on refusal", async () => {
      expect((await follow(await urlOf(), { method: "HEAD" })).headers.get("referrer-policy")).toBe("no-referrer");
      expect((await follow(withToken("bhdl_bogus.sig"))).headers.get("referrer-policy")).toBe("no-referrer");
    });

    it("never writes the link or its token into the audit log", async () => {
      const url = await urlOf();
      await (await follow(url)).arrayBuffer();
      await (await follow(withToken(adminToken))).arrayBuffer();
      const token = new URL(url, BASE_URL).searchParams.get("token")!;
      const entries = app.db.select().from(auditLog).all();
      expect(entries.filter((e) => e.action === "backup.download" && e.success)).toHaveLength(2);
      expect(entries.map((e) => e.action)).toContain("backup.download_link");
      const everything = JSON.stringify(entries);
      expect(everything).not.toContain(token.slice(5, 40));
      expect(everything).not.toContain(adminToken.slice(3, 30));
      expect(everything).not.toContain("token=");
    });
  });

  describe("links that do not hold", () => {
    it("refuses an expired link with 401 saying it expired", async () => {
      const expired = ticket({ now: new Date(Date.now() - TICKET_LIFETIME_MS - 1000) });
      const res = await follow(withToken(expired));
      expect(res.status).toBe(401);
      expect((await errorOf(res)).message).toMatch(/expired/);
    });

    it("refuses a link made for another backup", async () => {
      const other = (await (await createRoute(restRequest("/api/backups", { method: "POST", token: adminToken, json: { backup_type: "full", wait: true } }), noSegment())).json()) as BackupRecord;
      const url = await urlOf(other.id);
      const res = await follow(url.replace(`/backups/${other.id}/`, `/backups/${backup.id}/`));
      expect(res.status).toBe(401);
      expect((await errorOf(res)).message).toContain(`for backup ${other.id}, not backup ${backup.id}`);
    });

    it("refuses a tampered link", async () => {
      const url = await urlOf();
      const token = new URL(url, BASE_URL).searchParams.get("token")!;
      const flipped = token.slice(0, 10) + (token[10] === "A" ? "B" : "A") + token.slice(11);
      const res = await follow(withToken(flipped));
      expect(res.status).toBe(401);
    });

    it("refuses a link once the backup id names another archive (after a restore)", async () => {
      const url = await urlOf();
      const renamed = backup.filename.replace(".tar.gz", "_2.tar.gz");
      fs.renameSync(archive(), path.join(app.config.backupPath, renamed));
      app.db.update(backups).set({ filename: renamed }).where(eq(backups.id, backup.id)).run();
      const res = await follow(url);
      expect(res.status).toBe(401);
      expect((await errorOf(res)).message).toContain(backup.filename);
    });

    it("refuses the link of an admin who has since lost the role, with 403", async () => {
      const url = await urlOf();
      app.db.update(users).set({ role: "user" }).where(eq(users.id, app.admin.id)).run();
      const res = await follow(url);
      expect(res.status).toBe(403);
      expect(res.headers.get("content-disposition")).toBeNull();
    });

    it("refuses a link made for a normal user, with 403", async () => {
      const res = await follow(withToken(ticket({ userId: app.user.id, username: app.user.username })));
      expect(res.status).toBe(403);
    });

    it("does not fall back to the session cookie when the link is bad", async () => {
      const signedIn: RouteTransport = { readSession: async () => ({ user: { id: app.admin.id }, expires: "" }) as never };
      const req = new Request(new URL(withToken(ticket({ now: new Date(0) })), BASE_URL));
      const res = await downloadBackupRoute(req, idSegment(backup.id), signedIn);
      expect(res.status).toBe(401);
    });

    it("refuses a link sent as a Bearer token, on the download route and on the list", async () => {
      const token = new URL(await urlOf(), BASE_URL).searchParams.get("token")!;
      const onDownload = await downloadBackupRoute(restRequest(`/api/backups/${backup.id}/download`, { token }), idSegment(backup.id));
      expect(onDownload.status).toBe(401);
      const onList = await listRoute(restRequest("/api/backups", { token }), noSegment());
      expect(onList.status).toBe(401);
    });

    it("ignores a link in ?token= on any other route", async () => {
      const token = new URL(await urlOf(), BASE_URL).searchParams.get("token")!;
      const res = await getBackupRoute(new Request(`${BASE_URL}/api/backups/${backup.id}?token=${token}`), idSegment(backup.id), NO_SESSION);
      expect(res.status).toBe(401);
      expect((await errorOf(res)).message).toMatch(/accepted only by the download route/);
    });

    it("refuses a link on a POST to the download route with 405", async () => {
      const res = await follow(await urlOf(), { method: "POST" });
      expect(res.status).toBe(405);
      expect(res.headers.get("allow")).toBe("GET, HEAD, OPTIONS");
    });
  });

  describe("API tokens in ?token=", () => {
    it("accepts an admin's API token on the download route, as the real client's links send it", async () => {
      const res = await follow(withToken(adminToken));
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).length).toBe(backup.size_bytes);
    });

    it("refuses a normal user's API token on the download route with 403", async () => {
      const res = await follow(withToken(userToken));
      expect(res.status).toBe(403);
    });

    it("refuses an unknown API token with 401", async () => {
      const res = await follow(withToken("bh_not-a-real-token"));
      expect(res.status).toBe(401);
    });

    it("ignores an admin's API token in ?token= on the list route", async () => {
      const res = await listRoute(new Request(`${BASE_URL}/api/backups?token=${adminToken}`), noSegment(), NO_SESSION);
      expect(res.status).toBe(401);
    });

    it("ignores an admin's API token in ?token= on a POST route, changing nothing", async () => {
      const before = app.db.select().from(backups).get();
      const req = new Request(`${BASE_URL}/api/backups/${backup.id}/verify?token=${adminToken}`, { method: "POST" });
      const res = await verifyRoute(req, idSegment(backup.id), NO_SESSION);
      expect(res.status).toBe(401);
      expect(app.db.select().from(backups).get()).toEqual(before);
    });
  });
});
