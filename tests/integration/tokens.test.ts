import fs from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { apiTokens } from "@/db/schema";
import { listAudit } from "@/server/audit";
import { authenticateToken, hashToken } from "@/server/tokens";
import { createTestApp, type TestApp } from "../helpers/test-app";

describe("API tokens through the router", () => {
  let app: TestApp;
  beforeEach(() => {
    app = createTestApp();
  });
  afterEach(() => app.cleanup());

  const auditRows = (action: string) => listAudit(app.db, { action }).entries;

  it("returns the new token once, and the list never shows it again", async () => {
    const created = await app.caller(app.admin).tokens.create({ name: "nightly sync" });
    expect(created.token).toMatch(/^bh_[A-Za-z0-9_-]{43}$/);
    const listed = await app.caller(app.admin).tokens.list();
    expect(JSON.stringify(listed)).not.toContain(created.token);
  });

  it("stores only the token's hash", async () => {
    const created = await app.caller(app.admin).tokens.create({ name: "nightly sync" });
    const row = app.db.select().from(apiTokens).get()!;
    expect(row.tokenHash).toBe(hashToken(created.token));
    expect(Object.values(row)).not.toContain(created.token);
  });

  it("leaves the token string nowhere in the database files", async () => {
    const created = await app.caller(app.admin).tokens.create({ name: "nightly sync" });
    const file = app.config.databasePath;
    const bytes = Buffer.concat([file, `${file}-wal`].filter(fs.existsSync).map((f) => fs.readFileSync(f)));
    // The hash is found, so these are the bytes that hold the row...
    expect(bytes.includes(hashToken(created.token))).toBe(true);
    // ...and the token itself is not among them.
    expect(bytes.includes(created.token)).toBe(false);
    expect(bytes.includes(created.token.slice(10))).toBe(false);
  });

  it("lists a token by its prefix, name and owner", async () => {
    const created = await app.caller(app.admin).tokens.create({ name: "nightly sync" });
    const [listed] = await app.caller(app.admin).tokens.list();
    expect(listed).toMatchObject({
      id: created.id,
      name: "nightly sync",
      token_prefix: created.token.slice(0, 10),
      username: "admin",
      revoked_at: null,
    });
  });

  it("records token.create with the acting admin", async () => {
    const created = await app.caller(app.admin).tokens.create({ name: "nightly sync" });
    expect(auditRows("token.create")).toMatchObject([
      { actorId: app.admin.id, actorName: "admin", resource: `token:${created.id}`, success: true },
    ]);
    expect(JSON.stringify(auditRows("token.create"))).not.toContain(created.token);
  });

  it("revokes a token so it no longer authenticates", async () => {
    const created = await app.caller(app.admin).tokens.create({ name: "nightly sync" });
    await app.caller(app.admin).tokens.revoke({ id: created.id });
    expect(authenticateToken(app.db, created.token)).toBeNull();
    const [listed] = await app.caller(app.admin).tokens.list();
    expect(listed?.revoked_at).not.toBeNull();
  });

  it("records token.revoke with the acting admin", async () => {
    const created = await app.caller(app.admin).tokens.create({ name: "nightly sync" });
    await app.caller(app.admin).tokens.revoke({ id: created.id });
    expect(auditRows("token.revoke")).toMatchObject([
      { actorId: app.admin.id, actorName: "admin", resource: `token:${created.id}`, success: true },
    ]);
  });

  it("answers NOT_FOUND naming the id when revoking an unknown token", async () => {
    await expect(app.caller(app.admin).tokens.revoke({ id: 4242 })).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: expect.stringContaining("4242"),
    });
  });

  it("records a failed revoke of an unknown token", async () => {
    await app.caller(app.admin).tokens.revoke({ id: 4242 }).catch(() => undefined);
    expect(auditRows("token.revoke")).toMatchObject([{ resource: "token:4242", success: false }]);
  });

  it("refuses a token without a name", async () => {
    await expect(app.caller(app.admin).tokens.create({ name: "   " })).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });
});
