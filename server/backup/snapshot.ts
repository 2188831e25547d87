/**
 * A consistent copy of the live database, taken while the app keeps serving writes.
 *
 * `VACUUM INTO` runs inside one read transaction, so the copy is the database exactly as
 * it was at one instant; in WAL mode that read does not block writers. (The online backup
 * API, better-sqlite3's `backup()`, restarts whenever another connection writes, so under
 * steady writes from a second process it may never finish.) It runs in a worker thread
 * on its own read-only connection, and so does `PRAGMA integrity_check`, so that a large
 * database never stalls the event loop. The copy is switched out of WAL mode: one
 * self-contained file, checked before anything packs it.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";
import { AppError } from "../errors";
import { fsyncFile } from "./fs-safe";

// Plain CommonJS so it runs as an eval'd worker whatever bundles this module (Next.js, tsx).
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
let source, copy;
try {
  source = new Database(workerData.source, { readonly: true, fileMustExist: true });
  source.pragma("busy_timeout = 10000");
  source.prepare("VACUUM INTO ?").run(workerData.dest);
  source.close();
  source = undefined;
  copy = new Database(workerData.dest);
  copy.pragma("journal_mode = DELETE");
  const problems = copy.pragma("integrity_check").map((r) => r.integrity_check).filter((r) => r !== "ok");
  copy.close();
  parentPort.postMessage({ ok: true, problems });
} catch (err) {
  try { source && source.close(); } catch {}
  try { copy && copy.close(); } catch {}
  parentPort.postMessage({ ok: false, message: String(err && err.message || err), code: err && err.code });
}
`;

function driverPath(): string {
  return createRequire(path.join(process.cwd(), "package.json")).resolve("better-sqlite3");
}

function runWorker(source: string, dest: string): Promise<{ ok: true; problems: string[] } | { ok: false; message: string; code?: string }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { source, dest, driver: driverPath() } });
    worker.once("message", (msg) => {
      resolve(msg);
      void worker.terminate();
    });
    worker.once("error", reject);
    worker.once("exit", (code) => {
      if (code !== 0) reject(new Error(`database snapshot worker exited with code ${code}`));
    });
  });
}

/** Writes a snapshot of the database behind `source` (its file) to `destPath`. */
export async function snapshotDatabase(source: Database.Database | string, destPath: string): Promise<{ sizeBytes: number }> {
  const sourceFile = typeof source === "string" ? source : source.name;
  await fs.promises.rm(destPath, { force: true });
  const result = await runWorker(sourceFile, destPath);
  if (!result.ok && /^SQLITE_(CORRUPT|NOTADB)/.test(result.code ?? "")) {
    throw new AppError(
      "INTERNAL",
      `The live database failed its integrity check while the snapshot was taken (${result.message}). ` +
        "Nothing was backed up: check the disk, and restore the database from an earlier backup if it stays damaged.",
    );
  }
  if (!result.ok) {
    const err = new Error(`Could not take a snapshot of the database: ${result.message}`) as NodeJS.ErrnoException;
    if (result.code === "SQLITE_FULL" || /disk is full|SQLITE_FULL/i.test(result.message)) err.code = "ENOSPC";
    throw err;
  }
  if (result.problems.length) {
    throw new AppError(
      "INTERNAL",
      `The database snapshot failed its integrity check (${result.problems.slice(0, 3).join("; ")}). ` +
        "The live database may be damaged: check the disk and the server log before relying on it.",
    );
  }
  await fsyncFile(destPath);
  return { sizeBytes: fs.statSync(destPath).size };
}
