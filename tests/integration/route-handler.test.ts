import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AppError, GENERIC_INTERNAL_MESSAGE } from "@/server/errors";
import { adminRoute, methodNotAllowed, type RouteContext } from "@/server/http/route-handler";
import { createApiToken } from "@/server/tokens";
import { createTestApp, type TestApp } from "../helpers/test-app";

type Params = { id: string };

function bearerRequest(token: string, init: RequestInit = {}): Request {
  return new Request("http://nas.local/api/backups/7", {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) },
  });
}

const segment = { params: Promise.resolve<Params>({ id: "7" }) };

describe("adminRoute", () => {
  let app: TestApp;
  let adminToken: string;
  let userToken: string;
  beforeEach(() => {
    app = createTestApp();
    adminToken = createApiToken(app.db, { userId: app.admin.id, name: "admin script" }).token;
    userToken = createApiToken(app.db, { userId: app.user.id, name: "user script" }).token;
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await app.cleanup();
  });

  it("runs the handler for an admin's token, with the caller and params", async () => {
    const handler = vi.fn((ctx: RouteContext<Params>) => Response.json({ id: ctx.params.id, by: ctx.user.username }));
    const res = await adminRoute<Params>(handler)(bearerRequest(adminToken), segment);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: "7", by: "admin" });
    expect(handler.mock.calls[0]?.[0].actor).toMatchObject({ id: app.admin.id, username: "admin" });
  });

  it("answers 403 JSON to a normal user's token without running the handler", async () => {
    const handler = vi.fn(() => new Response("ran"));
    const res = await adminRoute<Params>(handler)(bearerRequest(userToken), segment);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { code: "FORBIDDEN" } });
    expect(handler).not.toHaveBeenCalled();
  });

  it("answers 401 JSON to an invalid token without running the handler", async () => {
    const handler = vi.fn(() => new Response("ran"));
    const res = await adminRoute<Params>(handler)(bearerRequest("bh_forged"), segment);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: "UNAUTHORIZED" } });
    expect(handler).not.toHaveBeenCalled();
  });

  it("answers 403 to a cross-site POST even with an admin's token", async () => {
    const handler = vi.fn(() => new Response("ran"));
    const req = bearerRequest(adminToken, { method: "POST", headers: { origin: "http://evil.example" } });
    const res = await adminRoute<Params>(handler)(req, segment);
    expect(res.status).toBe(403);
    expect(handler).not.toHaveBeenCalled();
  });

  it("turns an AppError into its status with its message", async () => {
    const handler = () => {
      throw new AppError("BACKUP_NOT_FOUND", "Backup 7 does not exist.");
    };
    const res = await adminRoute<Params>(handler)(bearerRequest(adminToken), segment);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "BACKUP_NOT_FOUND", message: "Backup 7 does not exist." }, detail: "Backup 7 does not exist." });
  });

  it("answers an unexpected error with a generic 500 that does not leak its text", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const handler = async () => {
      throw new Error("secret path /x");
    };
    const res = await adminRoute<Params>(handler)(bearerRequest(adminToken), segment);
    const body = await res.text();
    expect(res.status).toBe(500);
    expect(JSON.parse(body)).toEqual({ error: { code: "INTERNAL", message: GENERIC_INTERNAL_MESSAGE }, detail: GENERIC_INTERNAL_MESSAGE });
    expect(body).not.toContain("secret path");
    expect(String(logged.mock.calls.flat())).toContain("secret path");
  });

  it("repeats the message as detail, for clients that show response.data.detail", async () => {
    const handler = () => {
      throw new AppError("CONFLICT", "Backup 7 is in progress.");
    };
    const body = (await (await adminRoute<Params>(handler)(bearerRequest(adminToken), segment)).json()) as Record<string, unknown>;
    expect(body).toEqual({ error: { code: "CONFLICT", message: "Backup 7 is in progress." }, detail: "Backup 7 is in progress." });
  });
});

describe("methodNotAllowed", () => {
  it("answers a JSON 405 whose Allow header lists the route's methods, HEAD and OPTIONS included", async () => {
    const res = methodNotAllowed("GET", "DELETE")(new Request("http://nas.local/api/backups/7", { method: "PUT" }));
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, DELETE, HEAD, OPTIONS");
    const body = (await res.json()) as { error: { code: string; message: string }; detail: string };
    expect(body.error.code).toBe("METHOD_NOT_ALLOWED");
    expect(body.detail).toMatch(/PUT is not supported here/);
  });
});
