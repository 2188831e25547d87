import crypto from "node:crypto";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { notificationChannels, notificationDeliveries } from "@/db/schema";
import { SYSTEM_ACTOR } from "@/server/audit";
import { announce } from "@/server/backup/notify/announce";
import { createChannel } from "@/server/backup/notify/channels";
import { deliverDue, MAX_ATTEMPTS, RETRY_DELAYS_MS, sendTestNotification } from "@/server/backup/notify/sender";
import { closedPort, useAppWithWebhook } from "../helpers/notify";

const SECRET = "webhook-signing-secret-0123456789";
const T0 = new Date("2026-03-01T12:00:00Z");
const at = (ms: number) => new Date(T0.getTime() + ms);

const failure = {
  event: "backup_failed" as const,
  severity: "critical" as const,
  title: "Backup failed",
  message: "The full backup failed: disk full",
  action: "Free space, then run it again.",
  backupId: 3,
};

describe("webhook delivery", () => {
  const ctx = useAppWithWebhook();

  const addWebhook = (settings: { url?: string; timeout_seconds?: number } = {}, secret: string | null = SECRET) =>
    createChannel({
      db: ctx.app.db,
      config: ctx.app.config,
      actor: SYSTEM_ACTOR,
      input: { kind: "webhook", name: "ops hook", settings: { url: settings.url ?? ctx.hook.url, timeout_seconds: settings.timeout_seconds ?? 10 }, secret: secret ?? undefined },
    });

  const delivery = () => ctx.app.db.select().from(notificationDeliveries).all()[0]!;
  const channelRow = (id: number) => ctx.app.db.select().from(notificationChannels).where(eq(notificationChannels.id, id)).get()!;

  it("POSTs a queued event as JSON whose X-BaluHost-Signature is the HMAC-SHA256 of the raw body with the secret", async () => {
    const channel = await addWebhook();
    expect(announce(ctx.app.db, failure, T0)).toBe(1);
    const result = await deliverDue({ db: ctx.app.db, config: ctx.app.config, now: T0 });
    expect(result).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(ctx.hook.requests).toHaveLength(1);
    const req = ctx.hook.requests[0]!;
    expect(req.method).toBe("POST");
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.headers["user-agent"]).toBe("BaluHost");
    const expected = `sha256=${crypto.createHmac("sha256", SECRET).update(req.body).digest("hex")}`;
    expect(req.headers["x-baluhost-signature"]).toBe(expected);
    expect(req.headers["x-baluhost-timestamp"]).toBe(String(T0.getTime() / 1000));
    const body = JSON.parse(req.body);
    expect(body).toMatchObject({
      event: "backup_failed",
      severity: "critical",
      title: "Backup failed",
      message: "The full backup failed: disk full",
      action: "Free space, then run it again.",
      occurred_at: T0.toISOString(),
      sent_at: T0.getTime() / 1000,
      backup_id: 3,
      channel_id: channel.id,
      delivery_id: delivery().id,
    });
    expect(typeof body.host).toBe("string");
    expect(delivery()).toMatchObject({ status: "sent", attempts: 1 });
    expect(channelRow(channel.id)).toMatchObject({ lastDeliveryOk: true, lastDeliveryError: null });
  });

  it("sends no signature header when the channel has no secret", async () => {
    await addWebhook({}, null);
    announce(ctx.app.db, failure, T0);
    await deliverDue({ db: ctx.app.db, config: ctx.app.config, now: T0 });
    expect(ctx.hook.requests[0]!.headers["x-baluhost-signature"]).toBeUndefined();
  });

  it("retries after a 500 only once the backoff has passed: 30 s, then 2 min", async () => {
    const channel = await addWebhook();
    ctx.hook.answers.push(500, 500);
    announce(ctx.app.db, failure, T0);

    expect(await deliverDue({ db: ctx.app.db, config: ctx.app.config, now: T0 })).toEqual({ sent: 0, retrying: 1, failed: 0 });
    expect(delivery()).toMatchObject({ status: "pending", attempts: 1, lastError: expect.stringContaining("Webhook answered 500") });
    expect(delivery().nextAttemptAt.getTime()).toBe(at(RETRY_DELAYS_MS[0]).getTime());
    expect(channelRow(channel.id).lastDeliveryOk).toBe(false);

    // Not yet due: nothing is sent.
    await deliverDue({ db: ctx.app.db, config: ctx.app.config, now: at(RETRY_DELAYS_MS[0] - 1) });
    expect(ctx.hook.requests).toHaveLength(1);

    await deliverDue({ db: ctx.app.db, config: ctx.app.config, now: at(RETRY_DELAYS_MS[0]) });
    expect(ctx.hook.requests).toHaveLength(2);
    expect(delivery().nextAttemptAt.getTime()).toBe(at(RETRY_DELAYS_MS[0] + RETRY_DELAYS_MS[1]).getTime());

    const third = await deliverDue({ db: ctx.app.db, config: ctx.app.config, now: at(RETRY_DELAYS_MS[0] + RETRY_DELAYS_MS[1]) });
    expect(third.sent).toBe(1);
    expect(delivery()).toMatchObject({ status: "sent", attempts: 3, lastError: null });
    expect(channelRow(channel.id).lastDeliveryOk).toBe(true);
  });

  it("gives up after 6 failed attempts: the delivery is failed and the channel says why", async () => {
    const channel = await addWebhook();
    ctx.hook.answers.push(...Array(MAX_ATTEMPTS).fill(503));
    announce(ctx.app.db, failure, T0);
    let now = T0.getTime();
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      await deliverDue({ db: ctx.app.db, config: ctx.app.config, now: new Date(now) });
      now = delivery().nextAttemptAt.getTime();
    }
    expect(ctx.hook.requests).toHaveLength(MAX_ATTEMPTS);
    expect(delivery()).toMatchObject({ status: "failed", attempts: MAX_ATTEMPTS });
    expect(channelRow(channel.id).lastDeliveryError).toMatch(/^Gave up after 6 attempts: Webhook answered 503/);
    // Nothing more is tried, however late it gets.
    await deliverDue({ db: ctx.app.db, config: ctx.app.config, now: at(30 * 24 * 3_600_000) });
    expect(ctx.hook.requests).toHaveLength(MAX_ATTEMPTS);
  });

  it("counts a webhook that does not answer within its timeout as a failed attempt that says so", async () => {
    await addWebhook({ timeout_seconds: 1 });
    ctx.hook.hang = true;
    announce(ctx.app.db, failure, T0);
    const result = await deliverDue({ db: ctx.app.db, config: ctx.app.config, now: T0 });
    expect(result.retrying).toBe(1);
    expect(delivery().lastError).toMatch(/did not answer within 1 s/);
  });

  it("says the connection was refused, with the address, when nothing listens", async () => {
    const port = await closedPort();
    await addWebhook({ url: `http://127.0.0.1:${port}/hook` });
    announce(ctx.app.db, failure, T0);
    await deliverDue({ db: ctx.app.db, config: ctx.app.config, now: T0 });
    expect(delivery().lastError).toContain(`Connection refused by 127.0.0.1:${port}`);
  });

  it("does not follow a redirect: the signed body goes only where the admin said", async () => {
    await addWebhook();
    ctx.hook.answers.push(302);
    announce(ctx.app.db, failure, T0);
    await deliverDue({ db: ctx.app.db, config: ctx.app.config, now: T0 });
    expect(ctx.hook.requests).toHaveLength(1);
    expect(delivery().lastError).toMatch(/Webhook answered 302.*redirects are not followed/);
  });

  it("sends a row once when two senders run at the same moment (the claim is conditional)", async () => {
    await addWebhook();
    announce(ctx.app.db, failure, T0);
    const [a, b] = await Promise.all([deliverDue({ db: ctx.app.db, config: ctx.app.config, now: T0 }), deliverDue({ db: ctx.app.db, config: ctx.app.config, now: T0 })]);
    expect(a.sent + b.sent).toBe(1);
    expect(ctx.hook.requests).toHaveLength(1);
  });

  it("marks a queued row failed without sending when its channel was switched off", async () => {
    const channel = await addWebhook();
    announce(ctx.app.db, failure, T0);
    ctx.app.db.update(notificationChannels).set({ enabled: false }).where(eq(notificationChannels.id, channel.id)).run();
    const result = await deliverDue({ db: ctx.app.db, config: ctx.app.config, now: T0 });
    expect(result.failed).toBe(1);
    expect(ctx.hook.requests).toHaveLength(0);
    expect(delivery().lastError).toMatch(/switched off/);
  });

  it("a test notification is sent at once and reports the receiver's refusal in words", async () => {
    const channel = await addWebhook();
    ctx.hook.answers.push(404);
    const result = await sendTestNotification({ db: ctx.app.db, config: ctx.app.config, actor: SYSTEM_ACTOR, channelId: channel.id });
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/^Webhook answered 404 Not Found/);
    expect(JSON.parse(ctx.hook.requests[0]!.body).event).toBe("test");
    // Not left in the retry queue.
    expect(await deliverDue({ db: ctx.app.db, config: ctx.app.config, now: at(24 * 3_600_000) })).toEqual({ sent: 0, retrying: 0, failed: 0 });
  });

  it("a test notification that arrives reports ok and is audited", async () => {
    const channel = await addWebhook();
    const result = await sendTestNotification({ db: ctx.app.db, config: ctx.app.config, actor: SYSTEM_ACTOR, channelId: channel.id });
    expect(result).toMatchObject({ ok: true, error: null });
    const audit = ctx.app.db.query.auditLog.findFirst({ where: (a, { eq: e }) => e(a.action, "notify.test") }).sync();
    expect(audit).toMatchObject({ success: true, resource: `notify_channel:${channel.id}` });
  });
});
