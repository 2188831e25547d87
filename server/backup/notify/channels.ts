/**
 * Notification channels: where the admins want to hear about backups (a webhook, an e-mail
 * address). Create, update, remove and list, validated with the zod schemas below that the
 * tRPC router, the REST routes and the CLI share.
 *
 * Invariants: a secret (webhook signing secret, SMTP password) is written to a file under
 * the secrets folder (./secrets.ts), never to the database, never returned (records say
 * `has_secret`), never put in the audit log; an update without a secret keeps the saved
 * one; removing a channel removes its secret (its queued deliveries go with the row).
 */
import { asc, eq } from "drizzle-orm";
import { z } from "zod";
import type { AppDatabase } from "@/db/client";
import { NOTIFY_EVENTS, notificationChannels, type NotificationChannel, type NotifyEvent } from "@/db/schema";
import { recordAudit, type Actor } from "../../audit";
import type { AppConfig } from "../../config";
import { AppError, describeError } from "../../errors";
import { readChannelSecret, removeChannelSecret, writeChannelSecret } from "./secrets";

/** Events a channel chooses; "test" and "resolved" (the all-clear of an alert it got) always reach it. */
export const SUBSCRIBABLE_EVENTS = NOTIFY_EVENTS.filter((e) => e !== "test" && e !== "resolved") as Exclude<
  NotifyEvent,
  "test" | "resolved"
>[];
export type SubscribableEvent = (typeof SUBSCRIBABLE_EVENTS)[number];

/** What a new channel hears about unless told otherwise: everything that needs an admin (retention deletions are opt-in). */
export const DEFAULT_EVENTS: SubscribableEvent[] = SUBSCRIBABLE_EVENTS.filter((e) => e !== "retention_deleted");

export const EMAIL_SECURITY = ["starttls", "tls", "none"] as const;
export type EmailSecurity = (typeof EMAIL_SECURITY)[number];

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "::1", "[::1]"]);
export const isLoopbackHost = (host: string) => LOOPBACK_HOSTS.has(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host);

export const webhookSettingsSchema = z.object({
  url: z
    .string()
    .trim()
    .max(2000)
    .refine((u) => URL.canParse(u), "Enter the full URL, e.g. https://hooks.example.com/baluhost")
    .refine((u) => !URL.canParse(u) || ["http:", "https:"].includes(new URL(u).protocol), "Only http:// and https:// URLs are supported")
    .refine(
      (u) => !URL.canParse(u) || (!new URL(u).username && !new URL(u).password),
      "Leave user and password out of the URL (they would show in the channel list); use the signing secret to authenticate",
    ),
  timeout_seconds: z.number().int("Must be a whole number of seconds").min(1, "At least 1 second").max(60, "At most 60 seconds").default(10),
});

const address = z.email("Enter an e-mail address like admin@example.com").max(320);

export const emailSettingsSchema = z.object({
  host: z.string().trim().min(1, "Enter the SMTP server's host name").max(253),
  port: z.number().int().min(1, "A port is 1-65535").max(65535, "A port is 1-65535").default(587),
  /** starttls: plain connection upgraded (required, port 587); tls: TLS from the start (port 465); none: no encryption. */
  security: z.enum(EMAIL_SECURITY).default("starttls"),
  /** Check the server's TLS certificate; switch off only for a relay with a self-signed certificate on your own network. */
  verify_tls: z.boolean().default(true),
  user: z.string().trim().max(255).optional(),
  from: address,
  to: z.array(address).min(1, "Add at least one recipient").max(20, "At most 20 recipients"),
});

export type WebhookSettings = z.output<typeof webhookSettingsSchema>;
export type EmailSettings = z.output<typeof emailSettingsSchema>;

const nameSchema = z.string().trim().min(1, "Give the channel a name").max(100, "At most 100 characters");
const eventsSchema = z.array(z.enum(SUBSCRIBABLE_EVENTS)).max(SUBSCRIBABLE_EVENTS.length);
const secretSchema = z.string().min(1).max(1024, "At most 1024 characters");

const SECURITY_NONE_REFUSAL =
  "Without encryption the password would cross the network in clear text: choose STARTTLS or TLS, or use a relay on this machine (localhost)";

export const createChannelInput = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("webhook"),
    name: nameSchema,
    enabled: z.boolean().default(true),
    events: eventsSchema.default(DEFAULT_EVENTS),
    settings: webhookSettingsSchema,
    /** The signing secret (HMAC-SHA256 of the body in X-BaluHost-Signature); optional. */
    secret: secretSchema.optional(),
  }),
  z.object({
    kind: z.literal("email"),
    name: nameSchema,
    enabled: z.boolean().default(true),
    events: eventsSchema.default(DEFAULT_EVENTS),
    settings: emailSettingsSchema,
    /** The SMTP password (with settings.user). */
    secret: secretSchema.optional(),
  }),
]);
export type CreateChannelInput = z.input<typeof createChannelInput>;

/** A channel id from a path segment or an argument. */
export const channelIdSchema = z.coerce
  .number({ error: "The channel id must be a number" })
  .int("The channel id must be a whole number")
  .positive("The channel id must be positive");

export const updateChannelInput = z.object({
  id: z.number().int().positive(),
  name: nameSchema.optional(),
  enabled: z.boolean().optional(),
  events: eventsSchema.optional(),
  /** The whole settings object of the channel's kind (validated against it); the kind never changes. */
  settings: z.record(z.string(), z.unknown()).optional(),
  /** A new secret; left out, the saved one is kept. */
  secret: secretSchema.optional(),
  /** Remove the saved secret. */
  clear_secret: z.boolean().optional(),
});
export type UpdateChannelInput = z.input<typeof updateChannelInput>;

export const channelRecordSchema = z.object({
  id: z.number(),
  name: z.string(),
  kind: z.enum(["webhook", "email"]),
  enabled: z.boolean(),
  events: z.array(z.string()),
  settings: z.record(z.string(), z.unknown()),
  /** Where it goes, in a few words: the webhook's host and path, or the recipients. */
  target: z.string(),
  has_secret: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
  last_delivery_at: z.string().nullable(),
  last_delivery_ok: z.boolean().nullable(),
  last_delivery_error: z.string().nullable(),
});
export type ChannelRecord = z.output<typeof channelRecordSchema>;

export function channelTarget(row: Pick<NotificationChannel, "kind" | "settings">): string {
  if (row.kind === "webhook") {
    const url = String(row.settings.url ?? "");
    return URL.canParse(url) ? `${new URL(url).host}${new URL(url).pathname}` : url;
  }
  const to = Array.isArray(row.settings.to) ? row.settings.to.map(String) : [];
  return to.join(", ");
}

export function toChannelRecord(row: NotificationChannel): ChannelRecord {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    enabled: row.enabled,
    events: row.events,
    settings: row.settings,
    target: channelTarget(row),
    has_secret: row.hasSecret,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    last_delivery_at: row.lastDeliveryAt?.toISOString() ?? null,
    last_delivery_ok: row.lastDeliveryOk ?? null,
    last_delivery_error: row.lastDeliveryError ?? null,
  };
}

/** Checks a kind's settings together with whether a password will be sent; returns them with defaults applied. */
function validSettings(kind: NotificationChannel["kind"], settings: unknown, hasSecret: boolean): Record<string, unknown> {
  if (kind === "webhook") return webhookSettingsSchema.parse(settings);
  const email = emailSettingsSchema.parse(settings);
  if (email.security === "none" && hasSecret && !isLoopbackHost(email.host)) {
    throw new AppError("BAD_REQUEST", `settings.security: ${SECURITY_NONE_REFUSAL}.`);
  }
  if (hasSecret && !email.user) throw new AppError("BAD_REQUEST", "settings.user: Enter the SMTP user name that goes with the password.");
  return email;
}

export function listChannels(db: AppDatabase): ChannelRecord[] {
  return db.select().from(notificationChannels).orderBy(asc(notificationChannels.name)).all().map(toChannelRecord);
}

export function getChannelRow(db: AppDatabase, id: number): NotificationChannel {
  const row = db.select().from(notificationChannels).where(eq(notificationChannels.id, id)).get();
  if (!row) throw new AppError("NOT_FOUND", `Notification channel ${id} does not exist. List the channels to see their ids.`);
  return row;
}

/** A channel by id ("3") or by name, for the CLI. */
export function findChannel(db: AppDatabase, idOrName: string): NotificationChannel {
  const byName = db.select().from(notificationChannels).where(eq(notificationChannels.name, idOrName)).get();
  if (byName) return byName;
  if (/^\d+$/.test(idOrName)) return getChannelRow(db, Number(idOrName));
  throw new AppError("NOT_FOUND", `There is no notification channel named "${idOrName}". See: notify list`);
}

/** The secret a channel sends with, or null when it has none. */
export async function channelSecret(config: AppConfig, row: NotificationChannel): Promise<string | null> {
  return row.hasSecret ? readChannelSecret(config, row.id) : null;
}

function assertNameFree(db: AppDatabase, name: string, exceptId?: number): void {
  const other = db.select().from(notificationChannels).where(eq(notificationChannels.name, name)).get();
  if (other && other.id !== exceptId) throw new AppError("CONFLICT", `A notification channel named "${name}" already exists; choose another name.`);
}

/** What the audit log keeps of a channel: never the secret. */
function auditDetails(row: NotificationChannel): Record<string, unknown> {
  return { name: row.name, kind: row.kind, target: channelTarget(row), events: row.events, enabled: row.enabled, has_secret: row.hasSecret };
}

interface ChannelContext {
  db: AppDatabase;
  config: AppConfig;
  actor: Actor;
}

async function auditedChange<T>(
  ctx: ChannelContext,
  action: string,
  resource: string,
  run: () => Promise<{ row: NotificationChannel; result: T }>,
): Promise<T> {
  try {
    const { row, result } = await run();
    recordAudit(ctx.db, { action, actor: ctx.actor, resource: `notify_channel:${row.id}`, success: true, details: auditDetails(row) });
    return result;
  } catch (err) {
    recordAudit(ctx.db, { action, actor: ctx.actor, resource, success: false, errorMessage: describeError(err) });
    throw err;
  }
}

export async function createChannel(ctx: ChannelContext & { input: CreateChannelInput }): Promise<ChannelRecord> {
  const { db, config } = ctx;
  const input = createChannelInput.parse(ctx.input);
  return auditedChange(ctx, "notify.channel_create", `notify_channel:${input.name}`, async () => {
    const settings = validSettings(input.kind, input.settings, Boolean(input.secret));
    assertNameFree(db, input.name);
    const now = new Date();
    const row = db
      .insert(notificationChannels)
      .values({
        name: input.name,
        kind: input.kind,
        enabled: input.enabled,
        settings,
        events: [...new Set(input.events)],
        hasSecret: Boolean(input.secret),
        createdAt: now,
        updatedAt: now,
      })
      .returning()
      .get();
    if (input.secret) {
      try {
        await writeChannelSecret(config, row.id, input.secret);
      } catch (err) {
        // A channel that says it has a secret it does not have would fail every delivery.
        db.delete(notificationChannels).where(eq(notificationChannels.id, row.id)).run();
        throw new AppError("INTERNAL", `The secret could not be saved in ${config.secretsPath}: ${describeError(err)}. Nothing was created.`);
      }
    }
    return { row, result: toChannelRecord(row) };
  });
}

export async function updateChannel(ctx: ChannelContext & { input: UpdateChannelInput }): Promise<ChannelRecord> {
  const { db, config } = ctx;
  const input = updateChannelInput.parse(ctx.input);
  return auditedChange(ctx, "notify.channel_update", `notify_channel:${input.id}`, async () => {
    const current = getChannelRow(db, input.id);
    if (input.secret && input.clear_secret) throw new AppError("BAD_REQUEST", "Send either a new secret or clear_secret, not both.");
    const hasSecret = input.secret ? true : input.clear_secret ? false : current.hasSecret;
    const settings = validSettings(current.kind, input.settings ?? current.settings, hasSecret);
    const name = input.name ?? current.name;
    assertNameFree(db, name, current.id);
    // The new secret is in place before the row points at it; a failed write changes nothing.
    if (input.secret) await writeChannelSecret(config, current.id, input.secret);
    const row = db
      .update(notificationChannels)
      .set({
        name,
        enabled: input.enabled ?? current.enabled,
        events: input.events ? [...new Set(input.events)] : current.events,
        settings,
        hasSecret,
        updatedAt: new Date(),
      })
      .where(eq(notificationChannels.id, current.id))
      .returning()
      .get();
    if (input.clear_secret) await removeChannelSecret(config, current.id);
    return { row, result: toChannelRecord(row) };
  });
}

export async function removeChannel(ctx: ChannelContext & { id: number }): Promise<{ id: number; name: string }> {
  const { db, config } = ctx;
  return auditedChange(ctx, "notify.channel_delete", `notify_channel:${ctx.id}`, async () => {
    const row = getChannelRow(db, ctx.id);
    // Its queued deliveries go with it (ON DELETE CASCADE).
    db.delete(notificationChannels).where(eq(notificationChannels.id, row.id)).run();
    await removeChannelSecret(config, row.id);
    return { row, result: { id: row.id, name: row.name } };
  });
}
