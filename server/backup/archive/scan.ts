/**
 * Lists a tree for backup: every file, directory and symlink under a root, with lstat data.
 *
 * - Symlinks are reported as links (target text as stored), never followed. The root itself
 *   is followed, so a storage root that is a symlink to a mounted disk works.
 * - Sockets, FIFOs and devices are left out (reported through onSkipped as "special-file"):
 *   they cannot be backed up as data and opening a FIFO would block.
 * - Names are kept exactly as on disk. A name (or link target) that is not valid UTF-8 cannot be
 *   represented faithfully in a JS string, the manifest or a PAX header: it is left out and
 *   reported as "invalid-name" rather than stored under a mangled name.
 * - Entries that disappear during the scan are left out ("vanished"); an unreadable directory
 *   is an error (a backup that silently misses a folder is worse than one that fails).
 * - The result is sorted with comparePaths: a directory comes right before its contents, names
 *   compare by UTF-16 code unit, so the order is the same on every machine and locale.
 * - It streams: entries come in batches as the walk goes, and only the folders on the current
 *   path are held, so memory does not grow with the tree.
 *
 * The walk runs in a worker thread with synchronous readdir/lstat: on a warm cache a system
 * call costs a few microseconds, and the thread-pool round trip of the async API cost four
 * times as much as the calls themselves (measured: 0.17 s against 0.65 s for 35,000 entries).
 * The worker never blocks the event loop, and it waits (Atomics) when the consumer is a few
 * batches behind.
 */
import path from "node:path";
import { Worker } from "node:worker_threads";
import { throwIfAborted } from "./errors";
import type { ScannedEntry, SkippedEntry } from "./types";

export interface ScanOptions {
  signal?: AbortSignal;
  onSkipped?: (skipped: SkippedEntry) => void;
  /** Relative paths (of folders or files) to leave out entirely, with everything inside them. */
  exclude?: string[];
}

/** Entries per batch, and batches the worker may be ahead of the consumer. */
const BATCH_MAX = 1024;
const BATCHES_AHEAD = 2;

// Plain CommonJS so it runs as an eval'd worker whatever bundles this module (Next.js, tsx).
const WALK_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const fs = require("node:fs");
const { root, exclude, batchMax } = workerData;
const credits = new Int32Array(workerData.shared); // [0]: batches the consumer accepts; [1]: 1 = stop
const excluded = new Set(exclude);
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
let entries = [];
let skipped = [];
const base = root.endsWith("/") ? root : root + "/";

function post() {
  while (Atomics.load(credits, 0) <= 0) {
    if (Atomics.load(credits, 1) === 1) process.exit(0);
    Atomics.wait(credits, 0, 0, 500);
  }
  if (Atomics.load(credits, 1) === 1) process.exit(0);
  Atomics.sub(credits, 0, 1);
  parentPort.postMessage({ entries, skipped });
  entries = [];
  skipped = [];
}
function skip(p, reason) { skipped.push({ path: p, reason }); }
function names(rel) {
  let list;
  try {
    list = fs.readdirSync(rel === "" ? root : base + rel);
  } catch (err) {
    // Vanished or replaced since its lstat: nothing to list. Anything else (EACCES) fails the
    // scan: a backup that silently misses a folder is worse than one that fails.
    if (err.code === "ENOENT" || err.code === "ENOTDIR") return [];
    throw err;
  }
  // Names that are not valid UTF-8 come back with U+FFFD; only then look at the raw bytes.
  if (list.some((n) => n.includes("\\uFFFD"))) {
    const kept = list.filter((n) => !n.includes("\\uFFFD"));
    for (const raw of fs.readdirSync(rel === "" ? root : base + rel, { encoding: "buffer" })) {
      let name;
      try { name = utf8.decode(raw); } catch { skip((rel === "" ? "" : rel + "/") + raw.toString("utf8"), "invalid-name"); continue; }
      if (name.includes("\\uFFFD")) kept.push(name); // a real U+FFFD in the name
    }
    list = kept;
  }
  return list.sort(); // UTF-16 code-unit order, no locale
}
function walk(rel) {
  const list = names(rel);
  if (skipped.length >= batchMax) post();
  for (const name of list) {
    const p = rel === "" ? name : rel + "/" + name;
    if (excluded.has(p)) continue;
    let st;
    try {
      st = fs.lstatSync(base + p);
    } catch (err) {
      if (err.code === "ENOENT") { skip(p, "vanished"); continue; }
      throw err;
    }
    const mode = st.mode & 0o7777;
    if (st.isFile()) entries.push({ path: p, type: "file", size: st.size, mtimeMs: st.mtimeMs, mode });
    else if (st.isDirectory()) entries.push({ path: p, type: "dir", size: 0, mtimeMs: st.mtimeMs, mode });
    else if (st.isSymbolicLink()) {
      let target;
      try {
        target = fs.readlinkSync(base + p, { encoding: "buffer" });
      } catch (err) {
        if (err.code === "ENOENT" || err.code === "EINVAL") { skip(p, "vanished"); continue; }
        throw err;
      }
      try { entries.push({ path: p, type: "symlink", size: st.size, mtimeMs: st.mtimeMs, mode, linkTarget: utf8.decode(target) }); }
      catch { skip(p, "invalid-name"); }
    } else skip(p, "special-file");
    if (entries.length + skipped.length >= batchMax) post();
    if (st.isDirectory()) walk(p);
  }
}
try {
  let rootStat = null;
  try { rootStat = fs.statSync(root); } catch (err) { if (err.code !== "ENOENT") throw err; }
  if (rootStat && !rootStat.isDirectory()) throw Object.assign(new Error(root + " is not a directory"), { code: "ENOTDIR" });
  if (rootStat) walk("");
  post();
  parentPort.postMessage({ done: true });
} catch (err) {
  parentPort.postMessage({ error: { message: String(err && err.message || err), code: err && err.code, path: err && err.path, syscall: err && err.syscall } });
}
`;

/** The whole tree as an array (tests and small trees). Backups stream it with walkTreeBatches. */
export async function scanTree(root: string, opts: ScanOptions = {}): Promise<ScannedEntry[]> {
  const out: ScannedEntry[] = [];
  for await (const batch of walkTreeBatches(root, opts)) out.push(...batch);
  return out;
}

type WalkMessage =
  | { entries: ScannedEntry[]; skipped: SkippedEntry[] }
  | { done: true }
  | { error: { message: string; code?: string; path?: string; syscall?: string } };

/** The tree in comparePaths order, in batches of up to BATCH_MAX entries; a missing root yields nothing. */
export async function* walkTreeBatches(root: string, opts: ScanOptions = {}): AsyncGenerator<ScannedEntry[]> {
  const { signal } = opts;
  throwIfAborted(signal);
  const credits = new Int32Array(new SharedArrayBuffer(8));
  credits[0] = BATCHES_AHEAD;
  const worker = new Worker(WALK_SOURCE, {
    eval: true,
    // Its objects live for one folder at most: a small young generation keeps its heap small.
    resourceLimits: { maxYoungGenerationSizeMb: 4 },
    workerData: { root: path.resolve(root), exclude: opts.exclude ?? [], batchMax: BATCH_MAX, shared: credits.buffer },
  });
  const inbox: WalkMessage[] = [];
  let wake: (() => void) | null = null;
  let failure: Error | null = null;
  const deliver = () => {
    wake?.();
    wake = null;
  };
  worker.on("message", (msg: WalkMessage) => {
    inbox.push(msg);
    deliver();
  });
  worker.on("error", (err) => {
    failure = err;
    deliver();
  });
  worker.on("exit", (code) => {
    if (code !== 0) failure ??= new Error(`the folder scan stopped unexpectedly (worker exit code ${code})`);
    inbox.push({ done: true });
    deliver();
  });
  const onAbort = () => deliver();
  signal?.addEventListener("abort", onAbort);
  try {
    for (;;) {
      while (inbox.length === 0 && !failure && !signal?.aborted) await new Promise<void>((resolve) => (wake = resolve));
      throwIfAborted(signal);
      if (failure) throw failure;
      const msg = inbox.shift()!;
      if ("done" in msg) return;
      if ("error" in msg) throw Object.assign(new Error(msg.error.message), msg.error);
      // One batch taken: the worker may run one further ahead.
      Atomics.add(credits, 0, 1);
      Atomics.notify(credits, 0);
      for (const s of msg.skipped) opts.onSkipped?.(s);
      if (msg.entries.length > 0) yield msg.entries;
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    Atomics.store(credits, 1, 1);
    Atomics.notify(credits, 0);
    await worker.terminate();
  }
}

/**
 * Orders paths as a depth-first walk with sorted names: "/" sorts before every other
 * character, so "a" < "a/z" < "a b" < "a-b". Stable across machines (no locale).
 */
export function comparePaths(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca !== cb) {
      if (ca === 47) return -1;
      if (cb === 47) return 1;
      return ca - cb;
    }
  }
  return a.length - b.length;
}

/** The order of entries in an archive and its manifest (paths relative to "backup/"): the database, then files/, then config/, each part in comparePaths order. */
export function compareArchivePaths(a: string, b: string): number {
  return partRank(a) - partRank(b) || comparePaths(a, b);
}

function partRank(p: string): number {
  const isPart = (name: string) => p.startsWith(name) && (p.length === name.length || p.charCodeAt(name.length) === 47);
  return isPart("files") ? 1 : isPart("database") ? 0 : 2;
}

/**
 * Joins a root with relative paths made of plain names (as scans produce) by concatenation:
 * path.join normalises every time, which shows in profiles of trees with 100k entries.
 */
export function absoluteJoiner(root: string): (rel: string) => string {
  const base = path.resolve(root);
  const prefix = base.endsWith("/") ? base : `${base}/`;
  return (rel) => (rel === "" ? base : prefix + rel);
}
