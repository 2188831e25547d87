/**
 * Sending one message over one channel: a signed JSON POST, or an e-mail through
 * nodemailer. Each send resolves to ok or to an error an admin can act on ("Connection
 * refused by 127.0.0.1:2525", "Webhook answered 404 Not Found"); it never throws and never
 * logs. Error texts pass through `redact` first: an SMTP library's errors can carry the
 * AUTH exchange, and no secret may reach the database, the API or a log through them.
 *
 * Security "none" (plain SMTP) never upgrades opportunistically and is refused at save
 * time when a password would cross the network in clear (channels.ts).
 */
import crypto from "node:crypto";
import net from "node:net";
import nodemailer from "nodemailer";
import { describeError } from "../../errors";
import type { EventPayload } from "./announce";
import type { EmailSettings, WebhookSettings } from "./channels";
import { emailMessage, webhookBody, type DeliveryIds } from "./render";

export type SendResult = { ok: true } | { ok: false; error: string };

export const SIGNATURE_HEADER = "X-BaluHost-Signature";
export const TIMESTAMP_HEADER = "X-BaluHost-Timestamp";

export function signBody(secret: string, body: string): string {
  return `sha256=${crypto.createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** Removes every form a secret can take in an SMTP exchange (as is, base64, AUTH PLAIN/LOGIN payloads). */
export function redact(text: string, secrets: ReadonlyArray<string | null | undefined>, user?: string): string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (!secret) continue;
    forms.add(secret);
    forms.add(Buffer.from(secret).toString("base64"));
    forms.add(encodeURIComponent(secret));
    if (user) forms.add(Buffer.from(`\u0000${user}\u0000${secret}`).toString("base64"));
  }
  let out = text;
  for (const form of [...forms].filter((f) => f.length >= 3).sort((a, b) => b.length - a.length)) out = out.split(form).join("[redacted]");
  return out.replace(/AUTH\s+(PLAIN|LOGIN)\s+\S+/gi, "AUTH $1 [redacted]");
}

const oneLine = (s: string, max = 200) => {
  const flat = s.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
};

interface NetError {
  code?: string;
  address?: string;
  port?: number;
  hostname?: string;
}

const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

function networkProblem(err: unknown, where: string): string | null {
  const cause = ((err as { cause?: NetError })?.cause ?? err) as NetError;
  const text = describeError(err);
  // fetch puts the system error in `cause`; nodemailer wraps it in its own code (ESOCKET) and keeps it in the text.
  const code = [(err as NetError)?.code, cause?.code, /\b(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)\b/.exec(text)?.[1]].find(
    (c) => c && NETWORK_CODES.has(c),
  );
  switch (code) {
    case "ECONNREFUSED":
      return `Connection refused by ${where}: is the server running, and is the port right?`;
    case "ECONNRESET":
      return `${where} closed the connection (wrong port or TLS setting?)`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `The host name in ${where} could not be resolved: check the spelling and the NAS's DNS settings`;
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `${where} cannot be reached from this NAS (no route to host)`;
  }
  if (/certificate|self[- ]signed|UNABLE_TO_VERIFY|CERT_/i.test(text) || /CERT|SELF_SIGNED/.test(cause?.code ?? "")) {
    return `The TLS certificate of ${where} could not be verified (${oneLine(text, 120)}). Use a certificate from a trusted CA, or switch off "Verify TLS certificate" for a relay on your own network`;
  }
  return null;
}

export async function sendWebhook(opts: {
  settings: WebhookSettings;
  secret: string | null;
  payload: EventPayload;
  ids: DeliveryIds;
  now: Date;
  /** Caps the channel's own timeout (the CLI's best-effort delivery is short). */
  maxTimeoutMs?: number;
}): Promise<SendResult> {
  const { settings } = opts;
  const url = new URL(settings.url);
  const where = url.host;
  const timeoutMs = Math.min(settings.timeout_seconds * 1000, opts.maxTimeoutMs ?? Infinity);
  const body = JSON.stringify(webhookBody(opts.payload, opts.ids, opts.now));
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
    "User-Agent": "BaluHost",
    "X-BaluHost-Event": opts.payload.event,
    [TIMESTAMP_HEADER]: String(Math.floor(opts.now.getTime() / 1000)),
  };
  if (opts.ids.deliveryId !== null) headers["X-BaluHost-Delivery"] = String(opts.ids.deliveryId);
  if (opts.secret) headers[SIGNATURE_HEADER] = signBody(opts.secret, body);
  try {
    // Redirects are not followed: a signed body must go where the admin said, nowhere else.
    const res = await fetch(url, { method: "POST", headers, body, redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
    if (res.status >= 200 && res.status < 300) {
      await res.body?.cancel().catch(() => undefined);
      return { ok: true };
    }
    const text = await res.text().catch(() => "");
    const redirect = res.status >= 300 && res.status < 400 ? " (redirects are not followed: enter the final URL)" : "";
    const said = text.trim() && !redirect ? `: ${oneLine(text, 160)}` : "";
    return { ok: false, error: redact(`Webhook answered ${res.status}${res.statusText ? ` ${res.statusText}` : ""}${redirect}${said}`, [opts.secret]) };
  } catch (err) {
    if ((err as Error)?.name === "TimeoutError" || (err as Error)?.name === "AbortError") {
      return { ok: false, error: `Webhook at ${where} did not answer within ${Math.round(timeoutMs / 100) / 10} s` };
    }
    const error = networkProblem(err, where) ?? `The webhook at ${where} could not be called: ${oneLine(describeError((err as { cause?: unknown })?.cause ?? err))}`;
    return { ok: false, error: redact(error, [opts.secret]) };
  }
}

const SMTP_TIMEOUT_MS = 15_000;

export async function sendEmail(opts: {
  settings: EmailSettings;
  password: string | null;
  payload: EventPayload;
  maxTimeoutMs?: number;
}): Promise<SendResult> {
  const { settings, password } = opts;
  const where = `${settings.host}:${settings.port}`;
  const timeout = Math.min(SMTP_TIMEOUT_MS, opts.maxTimeoutMs ?? Infinity);
  const transport = nodemailer.createTransport({
    host: settings.host,
    port: settings.port,
    secure: settings.security === "tls",
    requireTLS: settings.security === "starttls",
    ignoreTLS: settings.security === "none",
    auth: settings.user && password ? { user: settings.user, pass: password } : undefined,
    // SNI takes a host name only (RFC 6066); an IP address is checked against the certificate without it.
    tls: { rejectUnauthorized: settings.verify_tls, servername: net.isIP(settings.host) ? undefined : settings.host },
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout * 2,
    dnsTimeout: timeout,
    logger: false,
    debug: false,
  });
  const message = emailMessage(opts.payload);
  try {
    await transport.sendMail({ from: settings.from, to: settings.to, subject: message.subject, text: message.text, html: message.html });
    return { ok: true };
  } catch (err) {
    return { ok: false, error: redact(describeSmtpError(err, where, timeout), [password], settings.user) };
  } finally {
    transport.close();
  }
}

function describeSmtpError(err: unknown, where: string, timeoutMs: number): string {
  const e = err as { code?: string; response?: string; responseCode?: number; message?: string; command?: string };
  const response = e.response ? oneLine(e.response, 160) : null;
  // The server answered STARTTLS with an error: it cannot upgrade (a TLS failure has no answer).
  if (e.code === "ETLS" && e.command === "STARTTLS" && response) {
    return `${where} does not offer STARTTLS (it answered ${response}): choose TLS (usually port 465), or no encryption for a relay on this machine`;
  }
  switch (e.code) {
    case "EAUTH":
      return response
        ? `SMTP server said ${response} (check the user name and password)`
        : `SMTP login failed: ${oneLine(e.message ?? "")} (check the user name and password)`;
    case "EENVELOPE":
      return `SMTP server refused the sender or a recipient: ${response ?? oneLine(e.message ?? "")}`;
    case "EMESSAGE":
      return `SMTP server refused the message: ${response ?? oneLine(e.message ?? "")}`;
    case "ETIMEDOUT":
      return `No answer from ${where} within ${Math.round(timeoutMs / 1000)} s (wrong port, a firewall, or TLS where the server expects STARTTLS?)`;
  }
  const network = networkProblem(err, where);
  if (network) return network;
  if (/wrong version number|packet length too long/i.test(e.message ?? "")) {
    return `${where} did not speak TLS: for port 587 choose STARTTLS, for port 465 TLS`;
  }
  return `The e-mail could not be sent through ${where}: ${response ?? oneLine(e.message ?? String(err))}`;
}
