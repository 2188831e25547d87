/**
 * Global setup of the e2e run: builds the app (unless E2E_SKIP_BUILD=1), seeds a fresh temp
 * folder (user files, a config file, a second user "bob" with role user), starts
 * `next start` on a free port with the NAS_* folders pointing there, waits until the login
 * page answers, and hands the address and folders to the tests (inject("e2e")). The server
 * is stopped when the run ends, whether the tests passed or not, and when setup fails.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { ADMIN_PASSWORD, BOB_PASSWORD, CHROMIUM_PATH, SEED_FILES, type E2EContext } from "./support/context";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const NEXT_BIN = createRequire(import.meta.url).resolve("next/dist/bin/next");
export const OUTPUT_DIR = path.join(REPO_ROOT, "test-output", "e2e");

/** The environment of every process we start: ours minus any app setting, plus the test's. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(NAS_|ADMIN_|NEXTAUTH_|BALUHOST_|BACKUP_|PORT$|NODE_ENV$)/.test(key)),
  );
  return { ...inherited, NEXT_TELEMETRY_DISABLED: "1", ...extra } as unknown as NodeJS.ProcessEnv;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** `next build`, keeping tsconfig.json as it was (Next rewrites its formatting). */
function buildApp(env: NodeJS.ProcessEnv): void {
  const tsconfigPath = path.join(REPO_ROOT, "tsconfig.json");
  const tsconfig = fs.readFileSync(tsconfigPath, "utf8");
  const started = Date.now();
  process.stdout.write("[e2e] building the app (next build; E2E_SKIP_BUILD=1 skips this)…\n");
  try {
    const result = spawnSync(process.execPath, [NEXT_BIN, "build"], {
      cwd: REPO_ROOT,
      env,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    fs.writeFileSync(path.join(OUTPUT_DIR, "build.log"), `${result.stdout ?? ""}\n${result.stderr ?? ""}`);
    if (result.status !== 0) {
      throw new Error(
        `next build failed (exit ${result.status}); see test-output/e2e/build.log\n${(result.stdout ?? "").slice(-3000)}\n${(result.stderr ?? "").slice(-3000)}`,
      );
    }
  } finally {
    if (fs.readFileSync(tsconfigPath, "utf8") !== tsconfig) fs.writeFileSync(tsconfigPath, tsconfig);
  }
  process.stdout.write(`[e2e] built in ${Math.round((Date.now() - started) / 1000)} s\n`);
}

function seedFolders(ctx: E2EContext): void {
  for (const [relative, content] of Object.entries(SEED_FILES)) {
    const file = path.join(ctx.storagePath, relative);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
  // Incompressible, so an archive is big enough for a throttled upload to show its progress.
  fs.writeFileSync(path.join(ctx.storagePath, "photos/2024/raw-image.bin"), crypto.randomBytes(3 * 1024 * 1024));
  fs.mkdirSync(ctx.configPath, { recursive: true });
  fs.writeFileSync(path.join(ctx.configPath, "baluhost.conf"), "# e2e config\nshare_name=family\n");
}

/** Creates "bob" (role user) with the real CLI, which also migrates the database and bootstraps the admin. */
function createBob(env: NodeJS.ProcessEnv): void {
  const result = spawnSync(process.execPath, ["--import", "tsx", "server/cli.ts", "user", "create", "bob", "--role", "user"], {
    cwd: REPO_ROOT,
    env,
    input: `${BOB_PASSWORD}\n`,
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`creating user bob failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
}

async function waitForServer(baseUrl: string, child: ChildProcess, log: () => string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`next start exited (${child.exitCode ?? child.signalCode}) before answering:\n${log().slice(-4000)}`);
    }
    try {
      const res = await fetch(`${baseUrl}/login`, { redirect: "manual" });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`next start did not answer on ${baseUrl}/login within ${timeoutMs / 1000} s:\n${log().slice(-4000)}`);
}

function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(hard);
      resolve();
    };
    child.once("exit", done);
    // The server runs in its own process group: signal the group, so no worker outlives it.
    const signal = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        // already gone
      }
    };
    const hard = setTimeout(() => {
      signal("SIGKILL");
      setTimeout(resolve, 500);
    }, 5000);
    signal("SIGTERM");
  });
}

declare module "vitest" {
  export interface ProvidedContext {
    e2e: E2EContext;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(`No Chromium at ${CHROMIUM_PATH}: install Debian's chromium: apt-get install chromium`);
  }
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "baluhost-e2e-"));
  const port = await freePort();
  const ctx: E2EContext = {
    baseUrl: `http://127.0.0.1:${port}`,
    root,
    databasePath: path.join(root, "data", "baluhost.db"),
    storagePath: path.join(root, "data", "storage"),
    configPath: path.join(root, "data", "config"),
    backupPath: path.join(root, "backups"),
    outputDir: OUTPUT_DIR,
  };
  const appEnv = {
    NAS_DATABASE_PATH: ctx.databasePath,
    NAS_STORAGE_PATH: ctx.storagePath,
    NAS_CONFIG_PATH: ctx.configPath,
    NAS_BACKUP_PATH: ctx.backupPath,
    ADMIN_PASSWORD,
    // Set here so the Retention card has a value "from the environment variable" to show.
    NAS_BACKUP_MAX_COUNT: "50",
  };

  let server: ChildProcess | undefined;
  const cleanup = async () => {
    if (server) await stopServer(server);
    server = undefined;
    if (process.env.E2E_KEEP !== "1") fs.rmSync(root, { recursive: true, force: true });
  };
  // A run cut short (Ctrl+C) must not leave the server behind either.
  const onExit = () => {
    if (server?.pid) {
      try {
        process.kill(-server.pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  };
  process.once("exit", onExit);

  try {
    if (process.env.E2E_SKIP_BUILD !== "1") buildApp(childEnv(appEnv));
    else if (!fs.existsSync(path.join(REPO_ROOT, ".next", "BUILD_ID"))) {
      throw new Error("E2E_SKIP_BUILD=1 but there is no build in .next: run without it once.");
    }
    seedFolders(ctx);
    createBob(childEnv(appEnv));

    const logFile = path.join(OUTPUT_DIR, "server.log");
    let log = "";
    server = spawn(process.execPath, [NEXT_BIN, "start", "-p", String(port), "-H", "127.0.0.1"], {
      cwd: REPO_ROOT,
      env: childEnv(appEnv),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const append = (chunk: Buffer) => {
      log += chunk.toString("utf8");
      fs.appendFileSync(logFile, chunk);
    };
    fs.writeFileSync(logFile, "");
    server.stdout?.on("data", append);
    server.stderr?.on("data", append);
    await waitForServer(ctx.baseUrl, server, () => log);
  } catch (err) {
    await cleanup();
    throw err;
  }

  project.provide("e2e", ctx);
  return async () => {
    process.removeListener("exit", onExit);
    await cleanup();
  };
}
