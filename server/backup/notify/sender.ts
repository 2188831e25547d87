/**
 * The notification sender: delivers the outbox (notification_deliveries) that announce()
 * fills. A row is pending until sent; a failed attempt is retried with backoff (30 s,
 * 2 min, 10 min, 1 h, 6 h) and given up after 6 attempts (status failed, the channel
 * shows the error).
 *
 * Invariants:
 *   - A row is sent by one process at a time: before sending, a process claims it with a
 *     conditional UPDATE that counts the attempt and moves next_attempt_at a lease ahead;
 *     only the process whose UPDATE changed the row sends it. A process that dies while
 *     sending leaves the row to be retried once the lease runs out.
 *   - Time comes from the caller (`now`), so tests drive retries with a clock, not sleeps.
 *   - Secrets are read from their files at send time and never logged or stored.
 *
 * The web server runs it on a 15 s timer and at once after each announce in its process
 * (startNotificationSender); the CLI calls deliverDue once after a command, best effort.
 */
import { and, desc, eq, lte, sql } from "drizzle-orm";
import { z } from "zod";
import type { AppDatabase } from "@/db/client";
import { notificationChannels, notificationDeliveries, type NotificationChannel, type NotificationDelivery } from "@/db/schema";
import { recordAudit, type Actor } from "../../audit";
import type { AppConfig } from "../../config";
import { describeError } from "../../errors";
import { eventPayload, onAnnounced, type EventPayload } from "./announce";
import { channelSecret, emailSettingsSchema, getChannelRow, webhookSettingsSchema } from "./channels";
import { sendEmail, sendWebhook, type SendResult } from "./transport";

/** Wait after the n-th failed attempt (index 0 = after the first). */
export const RETRY_DELAYS_MS = [30_000, 2 * 60_000, 10 * 60_000, 60 * 60_000, 6 * 60 * 60_000] as const;
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;
/** Longer than any send can take (webhook timeouts are at most 60 s, SMTP about 45 s). */
export const CLAIM_LEASE_MS = 5 * 60_000;
const BATCH = 25;

export interface DeliverOptions {
  db: AppDatabase;
  config: AppConfig;
  now?: Date;
  /** Caps each send's timeout (the CLI delivers best effort, briefly). */
  maxTimeoutMs?: number;
}

export interface DeliverResult {
  sent: number;
  retrying: number;
  failed: number;
}

/** Sends one message over a channel now, with its saved settings and secret. */
export async function sendOverChannel(
  config: AppConfig,
  channel: NotificationChannel,
  payload: EventPayload,
  deliveryId: number | null,
  now: Date,
  maxTimeoutMs?: number,
): Promise<SendResult> {
  let secret: string | null;
  try {
    secret = await channelSecret(config, channel);
  } catch (err) {
    return { ok: false, error: describeError(err) };
  }
  if (channel.kind === "webhook") {
    const settings = webhookSettingsSchema.safeParse(channel.settings);
    if (!settings.success) return { ok: false, error: "The channel's saved webhook settings are invalid: edit the channel and save it again." };
    return sendWebhook({ settings: settings.data, secret, payload, ids: { deliveryId, channelId: channel.id }, now, maxTimeoutMs });
  }
  const settings = emailSettingsSchema.safeParse(channel.settings);
  if (!settings.success) return { ok: false, error: "The channel's saved e-mail settings are invalid: edit the channel and save it again." };
  return sendEmail({ settings: settings.data, password: secret, payload, maxTimeoutMs });
}

function recordChannelResult(db: AppDatabase, channelId: number, result: SendResult, now: Date): void {
  db.update(notificationChannels)
    .set({ lastDeliveryAt: now, lastDeliveryOk: result.ok, lastDeliveryError: result.ok ? null : result.error })
    .where(eq(notificationChannels.id, channelId))
    .run();
}

/** Claims a due row for this process; false when another process claimed it first. */
function claim(db: AppDatabase, row: NotificationDelivery, now: Date): boolean {
  const changed = db
    .update(notificationDeliveries)
    .set({ attempts: sql`${notificationDeliveries.attempts} + 1`, nextAttemptAt: new Date(now.getTime() + CLAIM_LEASE_MS) })
    .where(
      and(
        eq(notificationDeliveries.id, row.id),
        eq(notificationDeliveries.status, "pending"),
        eq(notificationDeliveries.attempts, row.attempts),
        lte(notificationDeliveries.nextAttemptAt, now),
      ),
    )
    .run();
  return changed.changes === 1;
}

async function deliverOne(opts: DeliverOptions, row: NotificationDelivery, now: Date): Promise<"sent" | "retrying" | "failed" | "skipped"> {
  const { db, config } = opts;
  if (!claim(db, row, now)) return "skipped";
  const attempt = row.attempts + 1;
  const channel = db.select().from(notificationChannels).where(eq(notificationChannels.id, row.channelId)).get();
  if (!channel || !channel.enabled) {
    db.update(notificationDeliveries)
      .set({ status: "failed", lastError: "The channel was switched off before this notification was sent." })
      .where(eq(notificationDeliveries.id, row.id))
      .run();
    return "failed";
  }
  // The transports never throw; anything that still does is one failed attempt, not a lost run.
  const result = await sendOverChannel(config, channel, row.payload as unknown as EventPayload, row.id, now, opts.maxTimeoutMs).catch(
    (err: unknown): SendResult => ({ ok: false, error: `The notification could not be sent: ${describeError(err)}` }),
  );
  if (result.ok) {
    db.update(notificationDeliveries).set({ status: "sent", deliveredAt: now, lastError: null }).where(eq(notificationDeliveries.id, row.id)).run();
    recordChannelResult(db, channel.id, result, now);
    return "sent";
  }
  const giveUp = attempt >= MAX_ATTEMPTS;
  db.update(notificationDeliveries)
    .set(
      giveUp
        ? { status: "failed", lastError: result.error }
        : { lastError: result.error, nextAttemptAt: new Date(now.getTime() + RETRY_DELAYS_MS[attempt - 1]!) },
    )
    .where(eq(notificationDeliveries.id, row.id))
    .run();
  recordChannelResult(db, channel.id, giveUp ? { ok: false, error: `Gave up after ${attempt} attempts: ${result.error}` } : result, now);
  return giveUp ? "failed" : "retrying";
}

/** Delivers every pending row that is due at `now`. Safe to run in several processes at once. */
export async function deliverDue(opts: DeliverOptions): Promise<DeliverResult> {
  const now = opts.now ?? new Date();
  const result: DeliverResult = { sent: 0, retrying: 0, failed: 0 };
  const due = opts.db
    .select()
    .from(notificationDeliveries)
    .where(and(eq(notificationDeliveries.status, "pending"), lte(notificationDeliveries.nextAttemptAt, now)))
    .orderBy(notificationDeliveries.nextAttemptAt)
    .limit(BATCH)
    .all();
  // Channels are independent: one slow webhook must not hold up the e-mail.
  const outcomes = await Promise.all(due.map((row) => deliverOne(opts, row, now)));
  for (const outcome of outcomes) if (outcome !== "skipped") result[outcome] += 1;
  return result;
}

export const testResultSchema = z.object({
  ok: z.boolean(),
  /** What went wrong, for the admin; null when the message was accepted. */
  error: z.string().nullable(),
  duration_ms: z.number(),
});
export type TestResult = z.output<typeof testResultSchema>;

/**
 * Sends a "test" message to one channel at once (not through the retry queue) and says
 * whether it arrived. Recorded as a delivery (for the card's history), on the channel and
 * in the audit log.
 */
export async function sendTestNotification(opts: {
  db: AppDatabase;
  config: AppConfig;
  actor: Actor;
  channelId: number;
  now?: Date;
  maxTimeoutMs?: number;
}): Promise<TestResult> {
  const { db, config } = opts;
  const now = opts.now ?? new Date();
  const channel = getChannelRow(db, opts.channelId);
  const payload = eventPayload(
    {
      event: "test",
      severity: "info",
      title: "Test notification",
      message: `This is a test of the notification channel "${channel.name}", sent by ${opts.actor.username}. If you can read it, the channel works.`,
      action: "Nothing to do. Choose which events this channel receives in Settings → Backup → Notifications.",
    },
    now,
  );
  const started = Date.now();
  const row = db
    .insert(notificationDeliveries)
    .values({ channelId: channel.id, event: "test", payload: payload as unknown as Record<string, unknown>, status: "pending", attempts: 1, nextAttemptAt: new Date(now.getTime() + CLAIM_LEASE_MS), createdAt: now })
    .returning()
    .get();
  const result = await sendOverChannel(config, channel, payload, row.id, now, opts.maxTimeoutMs);
  const error = result.ok ? null : result.error;
  db.update(notificationDeliveries)
    .set({ status: result.ok ? "sent" : "failed", deliveredAt: result.ok ? now : null, lastError: error })
    .where(eq(notificationDeliveries.id, row.id))
    .run();
  recordChannelResult(db, channel.id, result, now);
  recordAudit(db, {
    action: "notify.test",
    actor: opts.actor,
    resource: `notify_channel:${channel.id}`,
    success: result.ok,
    errorMessage: error,
    details: { name: channel.name, kind: channel.kind },
  });
  return { ok: result.ok, error, duration_ms: Date.now() - started };
}

export const deliverySchema = z.object({
  id: z.number(),
  channel_id: z.number(),
  channel_name: z.string(),
  event: z.string(),
  title: z.string(),
  status: z.enum(["pending", "sent", "failed"]),
  attempts: z.number(),
  next_attempt_at: z.string().nullable(),
  last_error: z.string().nullable(),
  created_at: z.string(),
  delivered_at: z.string().nullable(),
});
export type DeliveryRecord = z.output<typeof deliverySchema>;

/** The newest deliveries, for the Notifications card. */
export function listDeliveries(db: AppDatabase, limit = 20): DeliveryRecord[] {
  return db
    .select({ d: notificationDeliveries, channelName: notificationChannels.name })
    .from(notificationDeliveries)
    .innerJoin(notificationChannels, eq(notificationDeliveries.channelId, notificationChannels.id))
    .orderBy(desc(notificationDeliveries.id))
    .limit(Math.min(Math.max(limit, 1), 200))
    .all()
    .map(({ d, channelName }) => ({
      id: d.id,
      channel_id: d.channelId,
      channel_name: channelName,
      event: d.event,
      title: String((d.payload as { title?: unknown }).title ?? d.event),
      status: d.status,
      attempts: d.attempts,
      next_attempt_at: d.status === "pending" ? d.nextAttemptAt.toISOString() : null,
      last_error: d.lastError,
      created_at: d.createdAt.toISOString(),
      delivered_at: d.deliveredAt?.toISOString() ?? null,
    }));
}

const SENDER_EVERY_MS = 15_000;

const holder = globalThis as unknown as {
  __baluhostNotifySender?: { timer: NodeJS.Timeout; unsubscribe: () => void };
};

/**
 * Runs the sender in this process (the web server): every 15 s and right after each
 * announce. One per process; runs never overlap (an announce during a run triggers
 * one more run after it).
 */
export function startNotificationSender(deps: { db: () => AppDatabase; config: () => AppConfig }): void {
  if (holder.__baluhostNotifySender) return;
  let running = false;
  let again = false;
  const run = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await deliverDue({ db: deps.db(), config: deps.config() });
      } while (again);
    } catch (err) {
      console.error("[notify] delivery run failed:", describeError(err));
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void run(), SENDER_EVERY_MS);
  timer.unref();
  const unsubscribe = onAnnounced(() => setImmediate(() => void run()));
  holder.__baluhostNotifySender = { timer, unsubscribe };
}

export function stopNotificationSender(): void {
  const sender = holder.__baluhostNotifySender;
  if (!sender) return;
  clearInterval(sender.timer);
  sender.unsubscribe();
  holder.__baluhostNotifySender = undefined;
}

/** How long a short-lived process (the CLI) spends delivering what it announced before it exits. */
const BRIEF_DELIVERY_MS = 5_000;

/**
 * Runs `run` (a CLI command) and then, if it announced anything, delivers the due outbox
 * once with short timeouts, best effort: what does not go out now stays queued for the web
 * server's sender. Never throws for a delivery problem.
 */
export async function deliveringAnnouncements<T>(run: () => Promise<T>, deps: { db: () => AppDatabase; config: () => AppConfig }): Promise<T> {
  let announced = false;
  const unsubscribe = onAnnounced(() => {
    announced = true;
  });
  try {
    return await run();
  } finally {
    unsubscribe();
    if (announced) {
      await deliverDue({ db: deps.db(), config: deps.config(), maxTimeoutMs: BRIEF_DELIVERY_MS }).catch((err: unknown) => {
        console.error("[notify] could not deliver now; the web server will retry:", describeError(err));
      });
    }
  }
}
