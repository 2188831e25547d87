/**
 * Running the CLI from tests, two ways: as a real child process (the entry point, exit
 * codes, closing the database: ~1 s per run, so few), or in-process against the current
 * test app with fake streams (fast: for output details, prompts and audit rows).
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import type { CliIO, RegisterCommands } from "@/server/cli/io";
import { runCli } from "@/server/cli/program";
import { registerTokenCommands } from "@/server/cli/tokens";
import { registerUserCommands } from "@/server/cli/users";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node --import tsx server/cli.ts <args>` (as `npm run cli` does) with exactly the given app env (plus PATH/HOME), `input` piped to stdin. */
export function spawnCli(args: string[], options: { env: Record<string, string>; input?: string }): Promise<CliRun> {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(NAS_|ADMIN_|NEXTAUTH_|BALUHOST_|PORT$)/.test(key)),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "server/cli.ts", ...args], {
      cwd: REPO_ROOT,
      env: { ...inherited, ...options.env } as NodeJS.ProcessEnv,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}

/** A fake terminal: stdin reports isTTY and records raw mode, so prompts take the no-echo path. */
export function fakeTerminal(): PassThrough & { isTTY: true; rawModes: boolean[]; setRawMode: (raw: boolean) => void } {
  const stdin = new PassThrough() as PassThrough & { isTTY: true; rawModes: boolean[]; setRawMode: (raw: boolean) => void };
  stdin.isTTY = true;
  stdin.rawModes = [];
  stdin.setRawMode = (raw) => void stdin.rawModes.push(raw);
  return stdin;
}

/**
 * Runs the CLI in this process against the test app already set up (createTestApp).
 * `input` is piped stdin text, or a stream (e.g. fakeTerminal()) the test writes to.
 */
export async function runCliInProcess(
  args: string[],
  options: { input?: string | CliIO["stdin"]; groups?: RegisterCommands[]; env?: Record<string, string> } = {},
): Promise<CliRun> {
  const stdin =
    typeof options.input === "object" ? options.input : new PassThrough().end(options.input ?? "");
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
  stderr.setEncoding("utf8").on("data", (s: string) => (err += s));
  const io: CliIO = { stdin, stdout, stderr, env: options.env ?? {} };
  const code = await runCli(args, io, options.groups ?? [registerUserCommands, registerTokenCommands]);
  await new Promise((resolve) => setImmediate(resolve)); // let the streams deliver what was written
  return { code, stdout: out, stderr: err };
}
