import fs from "node:fs";
import { describe, expect, it, vi } from "vitest";
import { auditLog, notificationChannels, notificationDeliveries } from "@/db/schema";
import { announce } from "@/server/backup/notify/announce";
import { channelSecretPath } from "@/server/backup/notify/secrets";
import { GET as listRoute, POST as createRoute } from "@/app/api/notifications/channels/route";
import { DELETE as deleteRoute, PATCH as patchRoute } from "@/app/api/notifications/channels/[id]/route";
import { POST as testRoute } from "@/app/api/notifications/channels/[id]/test/route";
import { databaseText, useAppWithWebhook } from "../helpers/notify";
import { errorOf, idSegment, noSegment, restRequest, tokenFor } from "../helpers/rest";

const SECRET = "the-signing-secret-do-not-leak-42";
const NEW_SECRET = "a-second-secret-also-private-77";

describe("notification channels", () => {
  const ctx = useAppWithWebhook();

  const admin = () => ctx.app.caller(ctx.app.admin).notify;
  const webhook = (overrides: Record<string, unknown> = {}) =>
    admin().createChannel({ kind: "webhook", name: "ops", settings: { url: ctx.hook.url, timeout_seconds: 5 }, secret: SECRET, ...overrides });

  it("keeps the secret in a 0600 file under the secrets folder and says only has_secret", async () => {
    const created = await webhook();
    expect(created).toMatchObject({ name: "ops", kind: "webhook", has_secret: true, target: expect.stringContaining("/hook") });
    expect(JSON.stringify(created)).not.toContain(SECRET);
    const file = channelSecretPath(ctx.app.config, created.id);
    expect(file.startsWith(ctx.app.config.secretsPath)).toBe(true);
    expect(fs.readFileSync(file, "utf8")).toBe(SECRET);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it("never puts the secret in the database file, the audit log, the API's answers or the console", async () => {
    const logged: string[] = [];
    for (const method of ["log", "error", "warn", "info"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void logged.push(args.map(String).join(" ")));
    }
    const created = await webhook();
    await admin().updateChannel({ id: created.id, secret: NEW_SECRET });
    await admin().test({ id: created.id });
    ctx.hook.answers.push(500);
    await admin().test({ id: created.id });
    const everything = [
      databaseText(ctx.app.config.databasePath),
      JSON.stringify(ctx.app.db.select().from(auditLog).all()),
      JSON.stringify(await admin().channels()),
      JSON.stringify(await admin().deliveries()),
      logged.join("\n"),
    ].join("\n");
    for (const secret of [SECRET, NEW_SECRET]) expect(everything).not.toContain(secret);
    expect(ctx.app.db.select().from(auditLog).all().map((a) => a.action)).toEqual(
      expect.arrayContaining(["notify.channel_create", "notify.channel_update", "notify.test"]),
    );
  });

  it("keeps the saved secret when an update leaves it out, and replaces it when one is given", async () => {
    const created = await webhook();
    const renamed = await admin().updateChannel({ id: created.id, name: "ops renamed", events: ["backup_failed"] });
    expect(renamed).toMatchObject({ name: "ops renamed", has_secret: true, events: ["backup_failed"] });
    expect(fs.readFileSync(channelSecretPath(ctx.app.config, created.id), "utf8")).toBe(SECRET);
    await admin().updateChannel({ id: created.id, secret: NEW_SECRET });
    expect(fs.readFileSync(channelSecretPath(ctx.app.config, created.id), "utf8")).toBe(NEW_SECRET);
    await admin().test({ id: created.id });
    expect(ctx.hook.requests[0]!.headers["x-baluhost-signature"]).toMatch(/^sha256=/);
  });

  it("creates nothing when the secret cannot be written, and says where it tried", async () => {
    fs.rmSync(ctx.app.config.secretsPath, { recursive: true, force: true });
    fs.writeFileSync(ctx.app.config.secretsPath, "not a folder");
    await expect(webhook()).rejects.toThrow(/The secret could not be saved in .*Nothing was created/);
    expect(ctx.app.db.select().from(notificationChannels).all()).toHaveLength(0);
  });

  it("refuses an update that both sets and clears the secret, and keeps the saved one", async () => {
    const created = await webhook();
    await expect(admin().updateChannel({ id: created.id, secret: NEW_SECRET, clear_secret: true })).rejects.toThrow(/either a new secret or clear_secret/);
    expect(fs.readFileSync(channelSecretPath(ctx.app.config, created.id), "utf8")).toBe(SECRET);
  });

  it("a channel whose secret file went missing fails its sends with what to do", async () => {
    const created = await webhook();
    fs.rmSync(channelSecretPath(ctx.app.config, created.id));
    const result = await admin().test({ id: created.id });
    expect(result.error).toMatch(/saved secret of notification channel \d+ is missing.*enter the secret again/);
    expect(ctx.hook.requests).toHaveLength(0);
  });

  it("removes the secret file with clear_secret", async () => {
    const created = await webhook();
    const updated = await admin().updateChannel({ id: created.id, clear_secret: true });
    expect(updated.has_secret).toBe(false);
    expect(fs.existsSync(channelSecretPath(ctx.app.config, created.id))).toBe(false);
  });

  it("removing a channel removes its secret and its queued deliveries", async () => {
    const created = await webhook();
    announce(ctx.app.db, { event: "backup_failed", severity: "critical", title: "t", message: "m", action: "a" });
    expect(ctx.app.db.select().from(notificationDeliveries).all()).toHaveLength(1);
    await admin().removeChannel({ id: created.id });
    expect(fs.existsSync(channelSecretPath(ctx.app.config, created.id))).toBe(false);
    expect(ctx.app.db.select().from(notificationDeliveries).all()).toHaveLength(0);
    expect(ctx.app.db.select().from(notificationChannels).all()).toHaveLength(0);
  });

  it("refuses a URL that is not http or https", async () => {
    await expect(webhook({ settings: { url: "file:///etc/passwd" } })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(webhook({ settings: { url: "ftp://example.com/x" } })).rejects.toThrow(/Only http:\/\/ and https:\/\//);
  });

  it("refuses a webhook timeout outside 1-60 seconds", async () => {
    await expect(webhook({ settings: { url: ctx.hook.url, timeout_seconds: 61 } })).rejects.toThrow(/At most 60 seconds/);
    await expect(webhook({ settings: { url: ctx.hook.url, timeout_seconds: 0 } })).rejects.toThrow(/At least 1 second/);
  });

  it("refuses an unencrypted SMTP channel that would send a password to another host", async () => {
    await expect(
      admin().createChannel({
        kind: "email",
        name: "mail",
        settings: { host: "mail.example.com", port: 25, security: "none", user: "nas", from: "nas@example.com", to: ["a@example.com"] },
        secret: "pw-123456",
      }),
    ).rejects.toThrow(/clear text/);
    expect(ctx.app.db.select().from(notificationChannels).all()).toHaveLength(0);
  });

  it("refuses a second channel with the same name", async () => {
    await webhook();
    await expect(webhook()).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining('"ops" already exists') });
  });

  it("queues an event only for the enabled channels subscribed to it, and its all-clear where the alert went", async () => {
    const wantsFailures = await webhook({ name: "failures", events: ["backup_failed"] });
    await webhook({ name: "retention", events: ["retention_deleted"] });
    await webhook({ name: "off", events: ["backup_failed"], enabled: false });
    expect(announce(ctx.app.db, { event: "backup_failed", severity: "critical", title: "t", message: "m", action: "a" })).toBe(1);
    expect(ctx.app.db.select().from(notificationDeliveries).all().map((d) => d.channelId)).toEqual([wantsFailures.id]);
    expect(announce(ctx.app.db, { event: "resolved", severity: "info", title: "t", message: "m", action: "a", details: { resolves: "backup_failed" } })).toBe(1);
    expect(announce(ctx.app.db, { event: "resolved", severity: "info", title: "t", message: "m", action: "a" })).toBe(2);
  });

  it("is for admins only: a normal user and an anonymous caller change nothing", async () => {
    const input = { kind: "webhook" as const, name: "x", settings: { url: ctx.hook.url } };
    await expect(ctx.app.caller(ctx.app.user).notify.createChannel(input)).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(ctx.app.caller(null).notify.channels()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    await expect(ctx.app.caller(ctx.app.user).notify.updateSettings({ no_backup_hours: 1, disk_free_min_percent: 1, notify_retention_deleted: false })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    await expect(ctx.app.caller(ctx.app.user).notify.health()).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(ctx.app.db.select().from(notificationChannels).all()).toHaveLength(0);
    expect((await admin().settings()).no_backup_hours).toBe(48);
  });

  it("saves alert settings and reads them back", async () => {
    expect(await admin().settings()).toEqual({ no_backup_hours: 48, disk_free_min_percent: 10, notify_retention_deleted: true });
    const saved = await admin().updateSettings({ no_backup_hours: 26, disk_free_min_percent: 0, notify_retention_deleted: false });
    expect(saved).toEqual({ no_backup_hours: 26, disk_free_min_percent: 0, notify_retention_deleted: false });
    expect(await admin().settings()).toEqual(saved);
  });

  describe("REST", () => {
    it("creates (201, no secret in the answer), lists, updates, tests and deletes (204)", async () => {
      const token = tokenFor(ctx.app, "admin");
      const created = await createRoute(
        restRequest("/api/notifications/channels", { method: "POST", token, json: { kind: "webhook", name: "rest", settings: { url: ctx.hook.url }, secret: SECRET } }),
        noSegment(),
      );
      expect(created.status).toBe(201);
      const body = await created.text();
      expect(body).not.toContain(SECRET);
      const { id, has_secret } = JSON.parse(body) as { id: number; has_secret: boolean };
      expect(has_secret).toBe(true);
      expect(created.headers.get("location")).toBe(`/api/notifications/channels/${id}`);

      const listed = (await (await listRoute(restRequest("/api/notifications/channels", { token }), noSegment())).json()) as { channels: unknown[] };
      expect(listed.channels).toHaveLength(1);

      const patched = await patchRoute(restRequest(`/api/notifications/channels/${id}`, { method: "PATCH", token, json: { enabled: false } }), idSegment(id));
      expect(await patched.json()).toMatchObject({ enabled: false, has_secret: true });

      const tested = await testRoute(restRequest(`/api/notifications/channels/${id}/test`, { method: "POST", token }), idSegment(id));
      expect(await tested.json()).toMatchObject({ ok: true, error: null });

      const deleted = await deleteRoute(restRequest(`/api/notifications/channels/${id}`, { method: "DELETE", token }), idSegment(id));
      expect(deleted.status).toBe(204);
      expect(fs.existsSync(channelSecretPath(ctx.app.config, id))).toBe(false);
    });

    it("answers 400 naming the field for an invalid channel", async () => {
      const res = await createRoute(
        restRequest("/api/notifications/channels", { method: "POST", token: tokenFor(ctx.app, "admin"), json: { kind: "webhook", name: "bad", settings: { url: "gopher://x" } } }),
        noSegment(),
      );
      expect(res.status).toBe(400);
      expect((await errorOf(res)).message).toMatch(/settings\.url: Only http/);
    });

    it("answers 404 naming the id of a channel that does not exist", async () => {
      const res = await testRoute(restRequest("/api/notifications/channels/99/test", { method: "POST", token: tokenFor(ctx.app, "admin") }), idSegment(99));
      expect(res.status).toBe(404);
      expect((await errorOf(res)).message).toMatch(/channel 99 does not exist/);
    });

    it("answers 403 to a normal user's token and creates nothing", async () => {
      const res = await createRoute(
        restRequest("/api/notifications/channels", { method: "POST", token: tokenFor(ctx.app, "user"), json: { kind: "webhook", name: "x", settings: { url: ctx.hook.url } } }),
        noSegment(),
      );
      expect(res.status).toBe(403);
      expect(ctx.app.db.select().from(notificationChannels).all()).toHaveLength(0);
    });
  });
});
