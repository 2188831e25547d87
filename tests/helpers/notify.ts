/**
 * Real receivers for notification tests: an HTTP server on 127.0.0.1:0 that records each
 * request (and answers with the status the test scripts), and an SMTP server (smtp-server)
 * that parses each message with mailparser. Plus a helper that reads every place a secret
 * must never reach: the database file, the audit log, the API's answers.
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer, type SMTPServerOptions } from "smtp-server";
import { afterEach, beforeEach, vi } from "vitest";
import type { EventPayload } from "@/server/backup/notify/announce";
import { createTestApp, type TestApp } from "./test-app";

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface WebhookReceiver {
  url: string;
  requests: ReceivedRequest[];
  /** Status codes for the next requests, in order; afterwards 200. */
  answers: number[];
  /** Never answer (for timeouts). */
  hang: boolean;
  close: () => Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const hanging: http.ServerResponse[] = [];
  const receiver: WebhookReceiver = { url: "", requests: [], answers: [], hang: false, close: async () => undefined };
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      receiver.requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      if (receiver.hang) {
        hanging.push(res);
        return;
      }
      const status = receiver.answers.shift() ?? 200;
      res.writeHead(status, { "content-type": "text/plain" }).end(status >= 400 ? "receiver says no" : "ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}

export interface MailReceiver {
  port: number;
  messages: Array<ParsedMail & { envelopeFrom: string; envelopeTo: string[] }>;
  logins: Array<{ username: string; password: string }>;
  close: () => Promise<void>;
}

/** An SMTP server on 127.0.0.1:0. `users` turns AUTH on (wrong credentials get 535). */
export async function startMailReceiver(options: { users?: Record<string, string>; smtp?: Partial<SMTPServerOptions> } = {}): Promise<MailReceiver> {
  const receiver: MailReceiver = { port: 0, messages: [], logins: [], close: async () => undefined };
  const server = new SMTPServer({
    disabledCommands: options.users ? [] : ["AUTH"],
    authOptional: !options.users,
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      receiver.logins.push({ username: auth.username ?? "", password: auth.password ?? "" });
      if (options.users && auth.username && options.users[auth.username] === auth.password) return callback(null, { user: auth.username });
      const err = new Error("Authentication failed") as Error & { responseCode: number };
      err.responseCode = 535;
      return callback(err);
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((mail) => {
          receiver.messages.push(
            Object.assign(mail, {
              envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
              envelopeTo: session.envelope.rcptTo.map((r) => r.address),
            }),
          );
          callback();
        })
        .catch(callback);
    },
    ...options.smtp,
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  receiver.port = (server.server.address() as AddressInfo).port;
  receiver.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return receiver;
}

/** A port nothing listens on: bind one, note it, close it. */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Raw bytes of the database file and its WAL, as text: a secret must not be in them. */
export function databaseText(databasePath: string): string {
  return ["", "-wal"].map((s) => (fs.existsSync(databasePath + s) ? fs.readFileSync(databasePath + s).toString("latin1") : "")).join("\n");
}

export const samplePayload = (overrides: Partial<EventPayload> = {}): EventPayload => ({
  event: "backup_failed",
  severity: "critical",
  title: "Backup failed",
  message: "The full backup backup_20260101_000000.tar.gz failed: disk full",
  action: "Free space, then run the backup again.",
  backupId: 7,
  host: "nas.test",
  occurredAt: "2026-01-01T00:00:00.000Z",
  details: { free_bytes: 1024 },
  ...overrides,
});

/** Registers a fresh test app and webhook receiver for each test of the enclosing describe. */
export function useAppWithWebhook(): { readonly app: TestApp; readonly hook: WebhookReceiver } {
  let app: TestApp;
  let hook: WebhookReceiver;
  beforeEach(async () => {
    app = createTestApp();
    hook = await startWebhookReceiver();
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await hook.close();
    await app.cleanup();
  });
  return {
    get app() {
      return app;
    },
    get hook() {
      return hook;
    },
  };
}
