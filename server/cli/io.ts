/**
 * What every CLI command shares: where it reads and writes, how it starts the app, how it
 * audits, and how a failure becomes a one-line message and an exit code.
 *
 * Invariants: stdout carries only a command's result, so a script can capture it (a token,
 * a JSON object); prompts, hints, start-up messages and errors go to stderr. A password is
 * never taken from argv (it would show in `ps` and shell history): it comes from stdin.
 */
import os from "node:os";
import { CommanderError, type Command } from "commander";
import { getDb, type AppDatabase } from "@/db/client";
import { recordAudit, type Actor } from "../audit";
import { ConfigError, type AppConfig } from "../config";
import { AppError, describeError } from "../errors";
import { ensureStarted } from "../startup";

export interface CliIO {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
}

/** A command group: adds its commands (e.g. `user create`) to the program. */
export type RegisterCommands = (program: Command, io: CliIO) => void;

/** What an action works with once the app is started. */
export interface CliContext {
  io: CliIO;
  config: AppConfig;
  db: AppDatabase;
  /** Audit actor of every CLI action: no user id, named after the OS account. */
  actor: Actor;
  /** `--json` was given: print results as one JSON value instead of a sentence. */
  json: boolean;
}

/** Exit codes: 1 for a failed operation, 2 for a command line that does not parse. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
const EXIT_INTERRUPTED = 130;

/** Ends a command with an exit code and a message (Ctrl-C at a prompt). */
export class CliExit extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
    this.name = "CliExit";
  }
}

export function processIO(): CliIO {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
}

export function cliActor(): Actor {
  let osUser: string | undefined;
  try {
    osUser = os.userInfo().username;
  } catch {
    // A uid without a passwd entry (common in containers) has no name.
  }
  return { id: null, username: osUser ? `cli:${osUser}` : "cli" };
}

/**
 * Starts the app for an action: folders, migrations, first admin. Called inside actions,
 * not before parsing, so `--help` and usage errors never touch the database.
 */
export function startCommand(io: CliIO, command: Command): CliContext {
  const config = ensureStarted({ announceAdminPassword: true });
  return {
    io,
    config,
    db: getDb(),
    actor: cliActor(),
    json: Boolean(command.optsWithGlobals<{ json?: boolean }>().json),
  };
}

/** Prints a command's result on stdout: the sentence, or with --json the data. */
export function printResult(ctx: CliContext, human: string, data: unknown): void {
  ctx.io.stdout.write(ctx.json ? `${JSON.stringify(data)}\n` : `${human}\n`);
}

/** Rows of cells as aligned columns under a header (two spaces apart), for `list` commands. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((cells) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

/** "2025-11-26 10:27:13" in this machine's time zone: the admin at the shell reads local time. */
export function localTime(iso: string | null): string {
  if (!iso) return "–";
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** Prints guidance for the person at the terminal; stderr, so it never mixes with results. */
export function printHint(io: CliIO, message: string): void {
  io.stderr.write(`${message}\n`);
}

/**
 * Runs an operation and records it in the audit log, as success or as failure with the
 * error's message. `describe` refines the entry from the result (e.g. the new row's id).
 */
export async function audited<T>(
  ctx: CliContext,
  entry: { action: string; resource: string; details?: Record<string, unknown> },
  run: () => T | Promise<T>,
  describe?: (result: T) => { resource?: string; details?: Record<string, unknown> },
): Promise<T> {
  let result: T;
  try {
    result = await run();
  } catch (err) {
    recordAudit(ctx.db, { ...entry, actor: ctx.actor, success: false, errorMessage: describeError(err) });
    throw err;
  }
  recordAudit(ctx.db, { ...entry, ...describe?.(result), actor: ctx.actor, success: true });
  return result;
}

/**
 * Reads a password from stdin. On a terminal: prompts without echo, twice when `confirm`,
 * and refuses a mismatch. Otherwise (piped): the first line, without its line ending.
 */
export async function readPassword(io: CliIO, options: { confirm?: boolean } = {}): Promise<string> {
  if (io.stdin.isTTY && io.stdin.setRawMode) {
    const first = await promptHidden(io, "Password: ");
    if (options.confirm && (await promptHidden(io, "Repeat password: ")) !== first) {
      throw new AppError("BAD_REQUEST", "The passwords do not match; nothing was changed.");
    }
    return first;
  }
  const line = await readFirstLine(io.stdin);
  if (!line) {
    throw new AppError("BAD_REQUEST", `No password on stdin: pipe it in as one line, e.g. printf '%s\\n' "$PASSWORD" | ...`);
  }
  return line;
}

function readFirstLine(stdin: CliIO["stdin"]): Promise<string | null> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    const finish = (line: string | null) => {
      stdin.off("data", onData);
      stdin.off("end", onEnd);
      stdin.off("error", onError);
      // Stop reading so an open pipe does not keep the process alive.
      stdin.pause();
      resolve(line === null ? null : line.replace(/\r$/, ""));
    };
    const onData = (chunk: string) => {
      buffered += chunk;
      const end = buffered.indexOf("\n");
      if (end >= 0) finish(buffered.slice(0, end));
    };
    const onEnd = () => finish(buffered || null);
    const onError = (err: Error) => {
      stdin.pause();
      reject(err);
    };
    stdin.setEncoding("utf8");
    stdin.on("data", onData);
    stdin.on("end", onEnd);
    stdin.on("error", onError);
    stdin.resume();
  });
}

function promptHidden(io: CliIO, prompt: string): Promise<string> {
  const { stdin } = io;
  io.stderr.write(prompt);
  stdin.setEncoding("utf8");
  stdin.setRawMode!(true);
  return new Promise((resolve, reject) => {
    let value = "";
    const finish = (err?: Error) => {
      stdin.off("data", onData);
      stdin.setRawMode!(false);
      stdin.pause();
      io.stderr.write("\n");
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      const chars = Array.from(chunk);
      for (const [i, ch] of chars.entries()) {
        if (ch === "\r" || ch === "\n") {
          finish();
          // A paste can bring both lines in one chunk: keep the rest for the next prompt
          // (after finish() paused the stream, or unshift would hand it straight back here).
          const rest = chars.slice(i + 1).join("").replace(/^\n/, "");
          if (rest) stdin.unshift(rest);
          return;
        }
        if (ch === "\u0003") return finish(new CliExit(EXIT_INTERRUPTED, "interrupted; nothing was changed."));
        if (ch === "\u0004" && !value) return finish(new AppError("BAD_REQUEST", "No password given."));
        if (ch === "\u007f" || ch === "\b") value = Array.from(value).slice(0, -1).join("");
        else if (ch >= " ") value += ch;
      }
    };
    stdin.on("data", onData);
    stdin.resume();
  });
}

/**
 * Writes a failure as one `error: ...` line on stderr and returns the exit code. Stack
 * traces only with BALUHOST_DEBUG=1. Commander has already printed its own usage errors.
 */
export function reportError(io: CliIO, err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
  const expected = err instanceof AppError || err instanceof ConfigError || err instanceof CliExit;
  io.stderr.write(`error: ${oneLine(describeError(err))}\n`);
  if (io.env.BALUHOST_DEBUG === "1" && err instanceof Error && err.stack) {
    io.stderr.write(`${err.stack}\n`);
  } else if (!expected) {
    io.stderr.write("(run again with BALUHOST_DEBUG=1 to see the stack trace)\n");
  }
  return err instanceof CliExit ? err.exitCode : EXIT_FAILURE;
}

/** ConfigError lists one variable per line; a terminal error is one line. */
function oneLine(message: string): string {
  const [head = "", ...rest] = message.split("\n").map((line) => line.trim()).filter(Boolean);
  return rest.length ? `${head} ${rest.join("; ")}` : head;
}
