import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { notificationDeliveries } from "@/db/schema";
import { SYSTEM_ACTOR } from "@/server/audit";
import { announce } from "@/server/backup/notify/announce";
import { createChannel, type EmailSettings } from "@/server/backup/notify/channels";
import { deliverDue, sendTestNotification } from "@/server/backup/notify/sender";
import { closedPort, databaseText, startMailReceiver, type MailReceiver } from "../helpers/notify";
import { createTestApp, makeTempDir, type TestApp } from "../helpers/test-app";

const PASSWORD = "smtp-pass-Xy7!qq";
const T0 = new Date("2026-03-01T12:00:00Z");

/** A self-signed certificate for 127.0.0.1, made by openssl for this test run. */
let tls: { key: Buffer; cert: Buffer };
let certDir: string;
beforeAll(() => {
  certDir = makeTempDir("baluhost-cert-");
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
    { cwd: certDir, stdio: "ignore" },
  );
  tls = { key: fs.readFileSync(path.join(certDir, "key.pem")), cert: fs.readFileSync(path.join(certDir, "cert.pem")) };
});
afterAll(() => fs.rmSync(certDir, { recursive: true, force: true }));

describe("e-mail delivery", () => {
  let app: TestApp;
  let mail: MailReceiver | undefined;
  beforeEach(() => {
    app = createTestApp();
  });
  afterEach(async () => {
    await mail?.close();
    mail = undefined;
    await app.cleanup();
  });

  const addEmail = (settings: Partial<EmailSettings>, secret?: string) =>
    createChannel({
      db: app.db,
      config: app.config,
      actor: SYSTEM_ACTOR,
      input: {
        kind: "email",
        name: "admins",
        settings: { host: "127.0.0.1", port: mail?.port ?? 25, security: "none", from: "nas@example.com", to: ["ops@example.com", "boss@example.com"], ...settings },
        secret,
      },
    });

  const test = (channelId: number) => sendTestNotification({ db: app.db, config: app.config, actor: SYSTEM_ACTOR, channelId });

  it("delivers a queued event without AUTH: subject, plain text, HTML, from and to", async () => {
    mail = await startMailReceiver();
    await addEmail({});
    announce(
      app.db,
      {
        event: "backup_failed",
        severity: "critical",
        title: "Backup failed",
        message: "The full backup failed: disk full",
        action: "Free space, then run it again.",
        details: { needed_bytes: 1234 },
      },
      T0,
    );
    expect(await deliverDue({ db: app.db, config: app.config, now: T0 })).toEqual({ sent: 1, retrying: 0, failed: 0 });
    const [message] = mail.messages;
    expect(message!.subject).toMatch(/^\[BaluHost .+\] Backup failed$/);
    expect(message!.from?.text).toBe("nas@example.com");
    expect(message!.envelopeTo).toEqual(["ops@example.com", "boss@example.com"]);
    expect(message!.text).toContain("The full backup failed: disk full");
    expect(message!.text).toContain("What to do: Free space, then run it again.");
    expect(message!.text).toContain(`Time: ${T0.toUTCString()}`);
    expect(message!.text).toContain("needed bytes: 1234");
    expect(message!.html).toContain("<h2");
    expect(message!.html).toContain("Backup failed");
  });

  it("logs in with the saved password when the server asks for AUTH", async () => {
    mail = await startMailReceiver({ users: { nas: PASSWORD } });
    const channel = await addEmail({ user: "nas" }, PASSWORD);
    const result = await test(channel.id);
    expect(result).toMatchObject({ ok: true, error: null });
    expect(mail.logins).toEqual([{ username: "nas", password: PASSWORD }]);
    expect(mail.messages[0]!.subject).toMatch(/Test notification$/);
  });

  it("says the SMTP server refused the login, with its answer, and never repeats the password", async () => {
    // A server that echoes what it got in its error: the error text must still not hold the password.
    mail = await startMailReceiver({
      users: { nas: "another-password" },
      smtp: {
        onAuth(auth, _session, callback) {
          const err = new Error(`authentication failed for ${auth.username}/${auth.password}`) as Error & { responseCode: number };
          err.responseCode = 535;
          callback(err);
        },
      },
    });
    const channel = await addEmail({ user: "nas" }, PASSWORD);
    const result = await test(channel.id);
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/^SMTP server said 535 authentication failed for nas\/\[redacted\]/);
    expect(result.error).not.toContain(PASSWORD);
    const channels = await app.caller(app.admin).notify.channels();
    expect(JSON.stringify(channels)).not.toContain(PASSWORD);
    expect(databaseText(app.config.databasePath)).not.toContain(PASSWORD);
  });

  it("says the connection was refused, with host and port", async () => {
    const port = await closedPort();
    const channel = await addEmail({ port });
    const result = await test(channel.id);
    expect(result.error).toContain(`Connection refused by 127.0.0.1:${port}`);
  });

  it("upgrades with STARTTLS to a server with a self-signed certificate when verification is off", async () => {
    mail = await startMailReceiver({ smtp: { key: tls.key, cert: tls.cert } });
    const channel = await addEmail({ security: "starttls", verify_tls: false });
    expect(await test(channel.id)).toMatchObject({ ok: true });
    expect(mail.messages).toHaveLength(1);
  });

  it("refuses a self-signed certificate when verification is on, saying what to do", async () => {
    mail = await startMailReceiver({ smtp: { key: tls.key, cert: tls.cert } });
    const channel = await addEmail({ security: "starttls", verify_tls: true });
    const result = await test(channel.id);
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/TLS certificate of 127\.0\.0\.1:\d+ could not be verified.*Verify TLS certificate/);
    expect(mail.messages).toHaveLength(0);
  });

  it("sends over implicit TLS (security tls)", async () => {
    mail = await startMailReceiver({ smtp: { secure: true, key: tls.key, cert: tls.cert } });
    const channel = await addEmail({ security: "tls", verify_tls: false });
    expect(await test(channel.id)).toMatchObject({ ok: true });
    expect(mail.messages).toHaveLength(1);
  });

  it("fails rather than send in clear when STARTTLS is required and the server does not offer it", async () => {
    mail = await startMailReceiver({ smtp: { disabledCommands: ["AUTH", "STARTTLS"], hideSTARTTLS: true } });
    const channel = await addEmail({ security: "starttls" });
    const result = await test(channel.id);
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/does not offer STARTTLS/);
    expect(mail.messages).toHaveLength(0);
  });

  it("records a failed queued e-mail for retry with the readable error", async () => {
    const port = await closedPort();
    await addEmail({ port });
    announce(app.db, { event: "disk_low", severity: "warning", title: "Low disk", message: "3 % free", action: "Free space." }, T0);
    expect((await deliverDue({ db: app.db, config: app.config, now: T0 })).retrying).toBe(1);
    expect(app.db.select().from(notificationDeliveries).get()).toMatchObject({ status: "pending", lastError: expect.stringContaining("Connection refused") });
  });
});
