/**
 * What a notification says, per transport: the webhook's JSON body (snake_case, stable
 * field names a receiver can rely on) and the e-mail's subject, plain text and HTML. Pure
 * functions of the queued payload, so a retry sends exactly what the first attempt did.
 */
import type { EventPayload } from "./announce";

export interface DeliveryIds {
  deliveryId: number | null;
  channelId: number;
}

/** The JSON a webhook receives. `sent_at` equals X-BaluHost-Timestamp, so the signature covers the timestamp. */
export function webhookBody(payload: EventPayload, ids: DeliveryIds, sentAt: Date): Record<string, unknown> {
  return {
    event: payload.event,
    severity: payload.severity,
    title: payload.title,
    message: payload.message,
    action: payload.action,
    host: payload.host,
    occurred_at: payload.occurredAt,
    sent_at: Math.floor(sentAt.getTime() / 1000),
    backup_id: payload.backupId ?? null,
    plan_name: payload.planName ?? null,
    delivery_id: ids.deliveryId,
    channel_id: ids.channelId,
    details: payload.details ?? {},
  };
}

export interface EmailMessage {
  subject: string;
  text: string;
  html: string;
}

const SEVERITY_WORDS = { info: "Info", warning: "Warning", critical: "Critical" } as const;

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

function figureValue(value: unknown): string {
  if (Array.isArray(value)) return value.map(String).join(", ");
  if (value !== null && typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Figures as "label: value" lines, labels from their keys (free_bytes → free bytes). */
function figures(payload: EventPayload): Array<[string, string]> {
  return Object.entries(payload.details ?? {})
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => [k.replace(/_/g, " "), figureValue(v)]);
}

export function emailMessage(payload: EventPayload): EmailMessage {
  const when = new Date(payload.occurredAt).toUTCString();
  const rows: Array<[string, string]> = [
    ["Severity", SEVERITY_WORDS[payload.severity]],
    ["Host", payload.host],
    ["Time", when],
    ...(payload.planName ? ([["Plan", payload.planName]] as Array<[string, string]>) : []),
    ...(payload.backupId ? ([["Backup id", String(payload.backupId)]] as Array<[string, string]>) : []),
    ...figures(payload),
  ];
  const text = [
    payload.message,
    "",
    `What to do: ${payload.action}`,
    "",
    ...rows.map(([k, v]) => `${k}: ${v}`),
    "",
    "-- ",
    "Sent by BaluHost. Choose which events reach this address in Settings → Backup → Notifications.",
    "",
  ].join("\n");
  const html = `<!doctype html><html><body style="font-family:sans-serif;line-height:1.4">
<h2 style="margin:0 0 8px">${escapeHtml(payload.title)}</h2>
<p>${escapeHtml(payload.message)}</p>
<p><strong>What to do:</strong> ${escapeHtml(payload.action)}</p>
<table cellpadding="4" style="border-collapse:collapse">
${rows.map(([k, v]) => `<tr><th align="left" style="color:#555">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join("\n")}
</table>
<p style="color:#777;font-size:12px">Sent by BaluHost. Choose which events reach this address in Settings → Backup → Notifications.</p>
</body></html>`;
  return { subject: `[BaluHost ${payload.host}] ${payload.title}`, text, html };
}
