/**
 * `notify ...` and `health`: notification channels and backup health from a shell. The
 * notify services do the work and the auditing; this file parses, calls and prints.
 *
 * A webhook secret or SMTP password never comes from argv (it would show in `ps` and the
 * shell history): `--secret-env NAME` reads it from that environment variable,
 * `--secret-stdin` from the first line of stdin.
 */
import { InvalidArgumentError, Option, type Command } from "commander";
import { formatBytes } from "@/lib/format";
import { AppError } from "../errors";
import { backupHealth } from "../backup/health";
import {
  createChannel,
  EMAIL_SECURITY,
  findChannel,
  listChannels,
  removeChannel,
  SUBSCRIBABLE_EVENTS,
  type ChannelRecord,
  type CreateChannelInput,
  type EmailSecurity,
  type SubscribableEvent,
} from "../backup/notify/channels";
import { sendTestNotification } from "../backup/notify/sender";
import { CliExit, EXIT_FAILURE, printResult, readPassword, startCommand, type CliIO } from "./io";

interface SecretOptions {
  secretEnv?: string;
  secretStdin?: boolean;
}

interface CommonOptions extends SecretOptions {
  name: string;
  events?: SubscribableEvent[];
  disabled?: boolean;
}

function parseEvents(value: string): SubscribableEvent[] {
  const events = value.split(",").map((e) => e.trim()).filter(Boolean);
  const unknown = events.filter((e) => !(SUBSCRIBABLE_EVENTS as readonly string[]).includes(e));
  if (unknown.length) throw new InvalidArgumentError(`unknown event ${unknown.join(", ")}; choose from ${SUBSCRIBABLE_EVENTS.join(", ")}`);
  return events as SubscribableEvent[];
}

function parseList(value: string): string[] {
  return value.split(",").map((s) => s.trim()).filter(Boolean);
}

function parseWholeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError("a whole number");
  return n;
}

async function readSecret(io: CliIO, options: SecretOptions, what: string): Promise<string | undefined> {
  if (options.secretEnv && options.secretStdin) throw new AppError("BAD_REQUEST", `Give the ${what} either with --secret-env or --secret-stdin, not both.`);
  if (options.secretEnv) {
    const value = io.env[options.secretEnv];
    if (!value) throw new AppError("BAD_REQUEST", `The environment variable ${options.secretEnv} is not set or empty; export it with the ${what}, or pipe it in with --secret-stdin.`);
    return value;
  }
  if (options.secretStdin) return readPassword(io);
  return undefined;
}

function withCommonOptions(command: Command, secretWhat: string): Command {
  return command
    .requiredOption("--name <name>", "the channel's name, shown in the list and in `notify test <name>`")
    .option("--events <list>", `comma-separated events to receive (default: all but retention_deleted): ${SUBSCRIBABLE_EVENTS.join(", ")}`, parseEvents)
    .option("--disabled", "save the channel switched off")
    .option("--secret-env <variable>", `read the ${secretWhat} from this environment variable`)
    .option("--secret-stdin", `read the ${secretWhat} from the first line of stdin`);
}

function channelLine(c: ChannelRecord): string {
  const last = c.last_delivery_at ? (c.last_delivery_ok ? `last sent ${c.last_delivery_at}` : `last failed: ${c.last_delivery_error}`) : "nothing sent yet";
  return `${c.id}\t${c.name}\t${c.kind}\t${c.target}\t${c.enabled ? "on" : "off"}\t${c.events.join(",")}\t${last}`;
}

type ChannelKindSettings = Pick<Extract<CreateChannelInput, { kind: "webhook" }>, "kind" | "settings"> | Pick<Extract<CreateChannelInput, { kind: "email" }>, "kind" | "settings">;

/** What add-webhook and add-email share: start, read the secret, create, print. */
async function addChannel(io: CliIO, command: Command, options: CommonOptions, secretWhat: string, channel: ChannelKindSettings): Promise<void> {
  const ctx = startCommand(io, command);
  const secret = await readSecret(io, options, secretWhat);
  const input = { ...channel, name: options.name, enabled: !options.disabled, events: options.events, secret } as CreateChannelInput;
  const created = await createChannel({ db: ctx.db, config: ctx.config, actor: ctx.actor, input });
  printResult(ctx, `added ${created.kind} channel ${created.id} (${created.name}) → ${created.target}; try it with: notify test ${created.id}`, created);
}

export function registerNotifyCommands(program: Command, io: CliIO): void {
  const notify = program.command("notify").description("notification channels: where failures and alerts are sent");

  notify
    .command("list")
    .description("list notification channels (secrets are never shown)")
    .action((_options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      const channels = listChannels(ctx.db);
      printResult(ctx, channels.length ? channels.map(channelLine).join("\n") : "no notification channels — add one with: notify add-webhook or notify add-email", channels);
    });

  withCommonOptions(notify.command("add-webhook").description("add a webhook: events are POSTed to the URL as signed JSON"), "signing secret")
    .requiredOption("--url <url>", "http:// or https:// URL that receives the POST")
    .option("--timeout <seconds>", "seconds to wait for an answer (1-60)", parseWholeNumber, 10)
    .action((options: CommonOptions & { url: string; timeout: number }, command: Command) =>
      addChannel(io, command, options, "signing secret", { kind: "webhook", settings: { url: options.url, timeout_seconds: options.timeout } }),
    );

  withCommonOptions(notify.command("add-email").description("add an e-mail channel sent through an SMTP server"), "SMTP password")
    .requiredOption("--host <host>", "SMTP server")
    .option("--port <port>", "SMTP port (587 for STARTTLS, 465 for TLS)", parseWholeNumber)
    .addOption(new Option("--security <mode>", "starttls (required upgrade), tls (from the start) or none (plain)").choices(EMAIL_SECURITY).default("starttls"))
    .option("--no-verify-tls", "accept a self-signed certificate (a relay on your own network)")
    .option("--user <user>", "SMTP user name (the password comes from --secret-env or --secret-stdin)")
    .requiredOption("--from <address>", "sender address")
    .requiredOption("--to <addresses>", "comma-separated recipients", parseList)
    .action(
      async (
        options: CommonOptions & { host: string; port?: number; security: EmailSecurity; verifyTls: boolean; user?: string; from: string; to: string[] },
        command: Command,
      ) =>
        addChannel(io, command, options, "SMTP password", {
          kind: "email",
          settings: {
            host: options.host,
            port: options.port ?? (options.security === "tls" ? 465 : options.security === "none" ? 25 : 587),
            security: options.security,
            verify_tls: options.verifyTls,
            user: options.user,
            from: options.from,
            to: options.to,
          },
        }),
    );

  notify
    .command("remove")
    .description("remove a channel, its saved secret and its queued messages")
    .argument("<channel>", "channel id or name (see `notify list`)")
    .action(async (channel: string, _options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      const removed = await removeChannel({ db: ctx.db, config: ctx.config, actor: ctx.actor, id: findChannel(ctx.db, channel).id });
      printResult(ctx, `removed channel ${removed.id} (${removed.name})`, removed);
    });

  notify
    .command("test")
    .description("send a test message to a channel now and say whether it arrived")
    .argument("<channel>", "channel id or name (see `notify list`)")
    .action(async (channel: string, _options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      const row = findChannel(ctx.db, channel);
      const result = await sendTestNotification({ db: ctx.db, config: ctx.config, actor: ctx.actor, channelId: row.id });
      if (!result.ok) {
        if (ctx.json) printResult(ctx, "", { channel_id: row.id, ...result });
        throw new CliExit(EXIT_FAILURE, `the test message to "${row.name}" was not delivered: ${result.error}`);
      }
      printResult(ctx, `test message sent to "${row.name}" (${result.duration_ms} ms)`, { channel_id: row.id, ...result });
    });

  program
    .command("health")
    .description("is this NAS protected? Last backup, next run, verification, drills, free space; exits 1 when critical")
    .action(async (_options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      const health = await backupHealth({ db: ctx.db, config: ctx.config });
      const lines = [
        `${health.status.toUpperCase()}: ${health.summary}`,
        ...health.reasons.slice(health.status === "critical" ? 1 : 0).map((r) => `  - ${r}`),
        `backups: ${health.backups_count} (${formatBytes(health.total_bytes)})${health.free_bytes !== null ? `, ${formatBytes(health.free_bytes)} free` : ""}`,
        ...(health.next_scheduled_run_at ? [`next scheduled backup: ${health.next_scheduled_run_at}`] : []),
      ];
      printResult(ctx, lines.join("\n"), health);
      if (health.status === "critical") throw new CliExit(EXIT_FAILURE, health.summary);
    });
}
