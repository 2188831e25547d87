/**
 * The REST API as the real BaluHost clients meet it, against the real `next start`: plain
 * HTTP only (fetch and node:http, no browser), read at the wire so that what Next does to
 * our responses (framing, redirects, error pages) is what is checked.
 */
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { e2eCliEnv, REPO_ROOT } from "./support/cli";
import { e2e } from "./support/browser";


interface RawAnswer {
  status: number;
  /** Header names lower-cased, as sent (so a missing Content-Length is really missing). */
  headers: Record<string, string>;
  body: Buffer;
}

/** One request with node:http, which (unlike fetch) shows the framing headers as sent. */
function raw(method: string, pathname: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(pathname, e2e().baseUrl), { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const sent: Record<string, string> = {};
        for (let i = 0; i < res.rawHeaders.length; i += 2) sent[res.rawHeaders[i]!.toLowerCase()] = res.rawHeaders[i + 1]!;
        resolve({ status: res.statusCode ?? 0, headers: sent, body: Buffer.concat(chunks) });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** An admin API token, made with the real CLI on the server's database. */
function createAdminToken(): string {
  const result = spawnSync(process.execPath, ["--import", "tsx", "server/cli.ts", "token", "create", "admin", "--name", "e2e http-compat"], {
    cwd: REPO_ROOT,
    env: e2eCliEnv(),
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`token create failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout.trim();
}

let token: string;
let backup: { id: number; filename: string; size_bytes: number; sha256: string };
const created: number[] = [];

const url = (pathname: string) => new URL(pathname, e2e().baseUrl);
const bearer = () => ({ authorization: `Bearer ${token}` });

async function createBackup(pathname = "/api/backups"): Promise<Response> {
  const res = await fetch(url(pathname), {
    method: "POST",
    headers: { ...bearer(), "content-type": "application/json" },
    body: JSON.stringify({ backup_type: "database_only", wait: true }),
    redirect: "manual",
  });
  if (res.status === 201) created.push(((await res.clone().json()) as { id: number }).id);
  return res;
}

beforeAll(async () => {
  token = createAdminToken();
  const res = await createBackup();
  expect(res.status).toBe(201);
  backup = (await res.json()) as typeof backup;
});

afterAll(async () => {
  // Leave the catalog as we found it: other e2e files start from an empty list.
  for (const id of created) await fetch(url(`/api/backups/${id}`), { method: "DELETE", headers: bearer() });
});

describe("downloads at the wire", () => {
  const download = () => `/api/backups/${backup.id}/download`;

  test("GET sends Content-Length and is not chunked", async () => {
    const res = await raw("GET", download(), bearer());
    expect(res.status).toBe(200);
    expect(res.headers["content-length"]).toBe(String(backup.size_bytes));
    expect(res.headers["transfer-encoding"]).toBeUndefined();
    expect(res.body.length).toBe(backup.size_bytes);
    expect(crypto.createHash("sha256").update(res.body).digest("hex")).toBe(backup.sha256);
  });

  test("HEAD sends the same Content-Length and no body", async () => {
    const res = await raw("HEAD", download(), bearer());
    expect(res.status).toBe(200);
    expect(res.headers["content-length"]).toBe(String(backup.size_bytes));
    expect(res.headers["transfer-encoding"]).toBeUndefined();
    expect(res.body.length).toBe(0);
  });

  test("a Range answer is 206 with the range's Content-Length and Content-Range", async () => {
    const res = await raw("GET", download(), { ...bearer(), range: "bytes=100-199" });
    expect(res.status).toBe(206);
    expect(res.headers["content-length"]).toBe("100");
    expect(res.headers["content-range"]).toBe(`bytes 100-199/${backup.size_bytes}`);
    expect(res.headers["transfer-encoding"]).toBeUndefined();
    expect(res.body.length).toBe(100);
  });

  test("If-None-Match with the weak form of the ETag is a 304 without a body", async () => {
    const etag = (await raw("HEAD", download(), bearer())).headers["etag"]!;
    const res = await raw("GET", download(), { ...bearer(), "if-none-match": `"x", W/${etag}` });
    expect(res.status).toBe(304);
    expect(res.body.length).toBe(0);
    expect(res.headers["etag"]).toBe(etag);
  });

  test("an unsatisfiable range is a JSON 416 that keeps Content-Range", async () => {
    const res = await raw("GET", download(), { ...bearer(), range: `bytes=${backup.size_bytes}-` });
    expect(res.status).toBe(416);
    expect(res.headers["content-range"]).toBe(`bytes */${backup.size_bytes}`);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    const body = JSON.parse(res.body.toString()) as { error: { code: string; message: string }; detail: string };
    expect(body.error.code).toBe("RANGE_NOT_SATISFIABLE");
    expect(body.detail).toBe(body.error.message);
  });
});

describe("download links and ?token=", () => {
  test("a download link works as a plain GET with no header, and says no-referrer", async () => {
    const made = await fetch(url(`/api/backups/${backup.id}/download-link`), { method: "POST", headers: bearer() });
    expect(made.status).toBe(201);
    const link = (await made.json()) as { url: string; expires_at: string };
    const res = await raw("GET", link.url);
    expect(res.status).toBe(200);
    expect(res.headers["content-length"]).toBe(String(backup.size_bytes));
    expect(res.headers["referrer-policy"]).toBe("no-referrer");
    expect(crypto.createHash("sha256").update(res.body).digest("hex")).toBe(backup.sha256);
  });

  test("an API token in ?token= downloads, as the real client's links do", async () => {
    const res = await raw("HEAD", `/api/backups/${backup.id}/download?token=${token}`);
    expect(res.status).toBe(200);
  });

  test("an API token in ?token= is ignored on the list", async () => {
    const res = await fetch(url(`/api/backups?token=${token}`));
    expect(res.status).toBe(401);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/accepted only by the download route/);
  });

  test("an API token in ?token= is ignored by tRPC too", async () => {
    const res = await fetch(url(`/api/trpc/backup.list?token=${token}`));
    expect(res.status).toBe(401);
  });

  test("a tampered link is refused with a JSON 401", async () => {
    const res = await fetch(url(`/api/backups/${backup.id}/download?token=bhdl_e30.AAAA`));
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("UNAUTHORIZED");
  });
});

describe("trailing slashes", () => {
  test("GET /api/backups/ answers the list directly", async () => {
    const res = await fetch(url("/api/backups/"), { headers: bearer(), redirect: "manual" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { backups: unknown[] }).backups.length).toBeGreaterThan(0);
  });

  test("POST /api/backups/ with a JSON body creates a backup, no redirect", async () => {
    const res = await createBackup("/api/backups/");
    expect(res.status).toBe(201);
    expect(((await res.json()) as { status: string }).status).toBe("completed");
  });

  test("GET and DELETE /api/backups/{id}/ answer like the path without the slash", async () => {
    const res = await createBackup();
    const { id } = (await res.json()) as { id: number };
    const got = await fetch(url(`/api/backups/${id}/`), { headers: bearer(), redirect: "manual" });
    expect(got.status).toBe(200);
    expect(((await got.json()) as { id: number }).id).toBe(id);
    const deleted = await fetch(url(`/api/backups/${id}/`), { method: "DELETE", headers: bearer(), redirect: "manual" });
    expect(deleted.status).toBe(204);
  });

  test("a page keeps Next's redirect to the path without the slash", async () => {
    const res = await fetch(url("/login/"), { redirect: "manual" });
    expect(res.status).toBe(308);
    expect(res.headers.get("location")).toBe("/login");
  });
});

describe("errors are JSON", () => {
  test.each(["/api/nothing", "/api/backups/1/nope", "/api"])("an unknown path %s is a JSON 404", async (pathname) => {
    const res = await fetch(url(pathname), { headers: bearer() });
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; message: string }; detail: string };
    expect(body.error.code).toBe("NOT_FOUND");
    expect(body.detail).toContain(pathname);
  });

  test("a wrong method on a known path is a JSON 405 with Allow", async () => {
    const res = await fetch(url(`/api/backups/${backup.id}`), { method: "PUT", headers: bearer() });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, DELETE, HEAD, OPTIONS");
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("METHOD_NOT_ALLOWED");
  });

  test("a PUT on the list is a JSON 405 with Allow", async () => {
    const res = await fetch(url("/api/backups"), { method: "PUT", headers: bearer() });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, POST, HEAD, OPTIONS");
  });

  test("a POST to the download is a JSON 405 with Allow: GET, HEAD", async () => {
    const res = await fetch(url(`/api/backups/${backup.id}/download`), { method: "POST", headers: bearer() });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD, OPTIONS");
  });

  test("a refused download (bad credentials) is JSON with detail", async () => {
    const res = await fetch(url(`/api/backups/${backup.id}/download`), { headers: { authorization: "Bearer bh_nope" } });
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: { message: string }; detail: string };
    expect(body.detail).toBe(body.error.message);
  });
});
