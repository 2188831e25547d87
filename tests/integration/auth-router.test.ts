import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { apiTokens, users } from "@/db/schema";
import { createCaller } from "@/server/api/root";
import { createRequestContext } from "@/server/api/trpc";
import { resolveRequestUser } from "@/server/auth/request";
import { authenticateToken, createApiToken, revokeApiToken } from "@/server/tokens";
import { createTestApp, type TestApp } from "../helpers/test-app";

function bearerRequest(token: string): Request {
  return new Request("http://nas.local/api/trpc/tokens.list", { headers: { authorization: `Bearer ${token}` } });
}

describe("router access control", () => {
  let app: TestApp;
  beforeEach(() => {
    app = createTestApp();
  });
  afterEach(() => app.cleanup());

  const tokenRows = () => app.db.select().from(apiTokens).all();

  it("refuses tokens.list to an anonymous caller with UNAUTHORIZED", async () => {
    await expect(app.caller(null).tokens.list()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  });

  it("refuses audit.list to an anonymous caller with UNAUTHORIZED", async () => {
    await expect(app.caller(null).audit.list({})).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  });

  it("refuses tokens.list to a normal user with FORBIDDEN", async () => {
    await expect(app.caller(app.user).tokens.list()).rejects.toMatchObject({ code: "FORBIDDEN" });
  });

  it("refuses audit.list to a normal user with FORBIDDEN", async () => {
    await expect(app.caller(app.user).audit.list({})).rejects.toMatchObject({ code: "FORBIDDEN" });
  });

  it("answers tokens.list and audit.list for an admin", async () => {
    await expect(app.caller(app.admin).tokens.list()).resolves.toEqual([]);
    await expect(app.caller(app.admin).audit.list({})).resolves.toMatchObject({ entries: expect.any(Array) });
  });

  it("changes nothing when a normal user calls tokens.create", async () => {
    const before = tokenRows();
    await expect(app.caller(app.user).tokens.create({ name: "sneaky" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(tokenRows()).toEqual(before);
  });

  it("changes nothing when a normal user calls tokens.revoke", async () => {
    const existing = createApiToken(app.db, { userId: app.admin.id, name: "deploy" });
    const before = tokenRows();
    await expect(app.caller(app.user).tokens.revoke({ id: existing.id })).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(tokenRows()).toEqual(before);
    expect(authenticateToken(app.db, existing.token)?.id).toBe(app.admin.id);
  });

  it("changes nothing when an anonymous caller calls tokens.create", async () => {
    const before = tokenRows();
    await expect(app.caller(null).tokens.create({ name: "sneaky" })).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    expect(tokenRows()).toEqual(before);
  });
});

describe("token callers", () => {
  let app: TestApp;
  beforeEach(() => {
    app = createTestApp();
  });
  afterEach(() => app.cleanup());

  it("authenticates a token as the user it belongs to", () => {
    const { token } = createApiToken(app.db, { userId: app.user.id, name: "script" });
    expect(authenticateToken(app.db, token)).toMatchObject({ id: app.user.id, username: "alice" });
  });

  it("rejects a revoked token", () => {
    const created = createApiToken(app.db, { userId: app.admin.id, name: "script" });
    revokeApiToken(app.db, created.id);
    expect(authenticateToken(app.db, created.token)).toBeNull();
  });

  it("rejects a token that was never issued", () => {
    expect(authenticateToken(app.db, "bh_not-a-real-token")).toBeNull();
  });

  it("resolves a bearer request to its user with the role from the database", async () => {
    const { token } = createApiToken(app.db, { userId: app.admin.id, name: "script" });
    await expect(resolveRequestUser(bearerRequest(token))).resolves.toEqual({
      id: app.admin.id,
      username: "admin",
      role: "admin",
      via: "token",
    });
  });

  it("does not fall back to anyone when the bearer token is invalid", async () => {
    await expect(resolveRequestUser(bearerRequest("bh_wrong"))).resolves.toBeNull();
  });

  it("refuses a demoted admin's token at once on the next request", async () => {
    const { token } = createApiToken(app.db, { userId: app.admin.id, name: "script" });
    const before = createCaller(await createRequestContext(bearerRequest(token)));
    await expect(before.tokens.list()).resolves.toHaveLength(1);

    app.db.update(users).set({ role: "user" }).where(eq(users.id, app.admin.id)).run();

    const after = createCaller(await createRequestContext(bearerRequest(token)));
    await expect(after.tokens.list()).rejects.toMatchObject({ code: "FORBIDDEN" });
  });
});
