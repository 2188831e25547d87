/**
 * Announcing an event to the admins: one outbox row per enabled channel that wants the
 * event, written in the same process and transaction-free (a single insert each), so
 * announcing never fails the operation it reports on. Delivery (retries, backoff, the
 * webhook and SMTP clients) is the sender's job; it may run in another process, which is
 * how a failure seen by the CLI while the web server is down is still delivered.
 */
import os from "node:os";
import { eq } from "drizzle-orm";
import type { AppDatabase } from "@/db/client";
import { notificationChannels, notificationDeliveries, type NotifyEvent } from "@/db/schema";

export type Severity = "info" | "warning" | "critical";

export interface BackupEvent {
  event: NotifyEvent;
  severity: Severity;
  /** One line, e.g. "Scheduled backup failed". The host is added by the sender's templates. */
  title: string;
  /** What happened, in a sentence or two an admin can read on a phone. */
  message: string;
  /** What to do about it. */
  action: string;
  backupId?: number | null;
  planName?: string | null;
  /** Figures worth showing (sizes, ages, counts); plain JSON values only. */
  details?: Record<string, unknown>;
}

/** What a channel receives: the event with where and when it happened. */
export interface EventPayload extends BackupEvent {
  host: string;
  occurredAt: string;
}

type Listener = () => void;
const listeners = new Set<Listener>();

/** The in-process sender subscribes here to deliver at once instead of at its next tick. */
export function onAnnounced(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function eventPayload(event: BackupEvent, now = new Date()): EventPayload {
  return { ...event, host: os.hostname(), occurredAt: now.toISOString() };
}

/**
 * A "resolved" message goes where the alert it closes went (`details.resolves` names the
 * alert's event), so a channel never gets an all-clear for an alert it was not sent.
 */
function wants(events: NotifyEvent[], event: BackupEvent): boolean {
  if (event.event !== "resolved") return events.includes(event.event);
  const resolves = event.details?.resolves;
  return typeof resolves !== "string" || events.includes(resolves as NotifyEvent);
}

/**
 * Queues the event for every enabled channel subscribed to it ("test" goes only where the
 * caller sends it, see the sender). Returns how many deliveries were queued. Never throws:
 * a notification problem must not turn a finished backup into an error.
 */
export function announce(db: AppDatabase, event: BackupEvent, now = new Date()): number {
  try {
    const channels = db.select().from(notificationChannels).where(eq(notificationChannels.enabled, true)).all();
    const wanting = channels.filter((c) => event.event !== "test" && wants(c.events, event));
    if (wanting.length === 0) return 0;
    const payload = eventPayload(event, now) as unknown as Record<string, unknown>;
    for (const channel of wanting) {
      db.insert(notificationDeliveries)
        .values({ channelId: channel.id, event: event.event, payload, status: "pending", nextAttemptAt: now, createdAt: now })
        .run();
    }
    for (const listener of listeners) listener();
    return wanting.length;
  } catch (err) {
    console.error(`[notify] could not queue ${event.event}:`, err);
    return 0;
  }
}
