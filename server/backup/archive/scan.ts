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
 */
import fs from "node:fs";
import path from "node:path";
import { errnoCode, throwIfAborted } from "./errors";
import type { ScannedEntry, SkippedEntry } from "./types";

export interface ScanOptions {
  signal?: AbortSignal;
  onSkipped?: (skipped: SkippedEntry) => void;
  /** Relative paths (of folders or files) to leave out entirely, with everything inside them. */
  exclude?: (relPath: string) => boolean;
}

/** lstat calls in flight at once within a folder: enough to hide thread-pool latency, few enough to leave it room. */
const CONCURRENCY = 32;
/** Folders listed ahead of the walk (readdir + lstat of their entries), so that small folders do not cost a round trip each. */
const FOLDERS_AHEAD = 256;
/**
 * The first subfolders of the folder just entered are listed ahead even beyond FOLDERS_AHEAD:
 * the walk enters them next, while the folders counted there may be far ahead (siblings of an
 * ancestor). Bounded by the depth of the tree times this.
 */
const SUBFOLDERS_AHEAD = 16;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The whole tree as an array (tests and small trees). Backups stream it with walkTree. */
export async function scanTree(root: string, opts: ScanOptions = {}): Promise<ScannedEntry[]> {
  const out: ScannedEntry[] = [];
  for await (const entry of walkTree(root, opts)) out.push(entry);
  return out;
}

/**
 * The tree, entry by entry, in comparePaths order (depth-first, names sorted by code unit:
 * the same order as sorting all paths). Only the folders on the current path and a few
 * listed ahead are held, so memory does not grow with the size of the tree. A missing root
 * yields nothing.
 */
export async function* walkTree(root: string, opts: ScanOptions = {}): AsyncGenerator<ScannedEntry> {
  for await (const batch of walkTreeBatches(root, opts)) yield* batch;
}

/**
 * walkTree in batches of about BATCH_MAX entries: one await per batch rather than per entry,
 * which is a good part of the cost for trees of many small folders.
 */
export async function* walkTreeBatches(root: string, opts: ScanOptions = {}): AsyncGenerator<ScannedEntry[]> {
  const { signal } = opts;
  throwIfAborted(signal);
  let rootStat: fs.Stats;
  try {
    rootStat = await fs.promises.stat(root);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return;
    throw err;
  }
  if (!rootStat.isDirectory()) throw new Error(`${root} is not a directory`);
  const lister = new FolderLister(root, opts);
  const top: Listed = { entry: { path: "", type: "dir", size: 0, mtimeMs: 0, mode: 0 } };
  lister.prefetch(top);
  // Each level: the listed children of one folder and the position reached in them.
  const stack: Level[] = [await lister.whenListed(top)];
  lister.entered(top);
  let batch: ScannedEntry[] = [];
  while (stack.length > 0) {
    const level = stack[stack.length - 1];
    if (level.next >= level.children.length) {
      stack.pop();
      const parent = stack[stack.length - 1];
      if (parent) lister.prefetchFrom(parent);
      continue;
    }
    const child = level.children[level.next];
    level.children[level.next++] = RELEASED;
    batch.push(child.entry);
    if (child.entry.type !== "dir") continue;
    if (batch.length >= BATCH_MAX) {
      throwIfAborted(signal);
      yield batch;
      batch = [];
    }
    lister.prefetch(child);
    // Listed ahead in most cases: then no await at all.
    const entered = child.listing?.level ?? (await lister.whenListed(child));
    lister.entered(child);
    stack.push(entered);
    lister.prefetchFrom(entered, SUBFOLDERS_AHEAD);
  }
  throwIfAborted(signal);
  if (batch.length > 0) yield batch;
}

const BATCH_MAX = 1024;

/** One folder on the walk's path: its listed children, the next to walk, how far prefetching looked. */
interface Level {
  children: Listed[];
  next: number;
  considered: number;
}

interface Listing {
  level?: Level;
  error?: unknown;
  /** Set while the walk waits for this listing. */
  wake?: () => void;
}

interface Listed {
  entry: ScannedEntry;
  /** Folders whose listing has started: its state. */
  listing?: Listing;
}

const RELEASED: Listed = { entry: { path: "", type: "dir", size: 0, mtimeMs: 0, mode: 0 } };

/**
 * Lists folders (readdir, then lstat of every name) ahead of the walk. All file-system calls go
 * through one queue, CONCURRENCY at a time, on fs's callback API with no promise per folder or
 * entry: the lstat calls are the whole cost of a scan, and per-call promises would double it.
 */
class FolderLister {
  private readonly under: (rel: string) => string;
  private readonly onSkipped: (s: SkippedEntry) => void;
  /** Listings started but not entered by the walk yet. */
  private ahead = 0;
  private active = 0;
  private readonly queue: Array<(done: () => void) => void> = [];
  private queueHead = 0;

  constructor(root: string, private readonly opts: ScanOptions) {
    this.under = absoluteJoiner(root);
    this.onSkipped = opts.onSkipped ?? (() => undefined);
  }

  /**
   * Starts listing the next folders among a level's children. At most FOLDERS_AHEAD listings
   * exist that the walk has not entered yet (plus `atLeast` for the folder just entered), so
   * read-ahead never grows into a copy of the tree.
   */
  prefetchFrom(level: Level, atLeast = 0): void {
    let started = 0;
    const { children } = level;
    level.considered = Math.max(level.considered, level.next);
    for (; level.considered < children.length && (this.ahead < FOLDERS_AHEAD || started < atLeast); level.considered++) {
      const child = children[level.considered];
      if (child.entry.type === "dir" && !child.listing) {
        this.prefetch(child);
        started++;
      }
    }
  }

  /** Starts listing one folder (once). */
  prefetch(folder: Listed): void {
    if (folder.listing) return;
    const listing: Listing = {};
    folder.listing = listing;
    this.ahead++;
    this.listChildren(folder.entry.path, (err, children) => {
      if (err) listing.error = err;
      else {
        listing.level = { children: children!, next: 0, considered: 0 };
        // Its first subfolders are listed ahead too, so read-ahead reaches down the tree in the
        // order the walk will go rather than one level per round trip.
        this.prefetchFrom(listing.level);
      }
      listing.wake?.();
    });
  }

  /** The listing of a folder whose listing has started, once it is complete. */
  whenListed(folder: Listed): Promise<Level> {
    const listing = folder.listing!;
    return new Promise((resolve, reject) => {
      const settle = () => (listing.level ? resolve(listing.level) : reject(listing.error));
      if (listing.level || listing.error) settle();
      else listing.wake = settle;
    });
  }

  /** The walk entered the folder: its listing no longer counts as ahead and is released. */
  entered(folder: Listed): void {
    this.ahead--;
    folder.listing = undefined;
  }

  /** One folder's entries sorted by name, with lstat data; a folder that vanished has none. */
  private listChildren(rel: string, cb: (err: unknown, children?: Listed[]) => void): void {
    this.run((done) =>
      fs.readdir(this.under(rel), (err, names) => {
        done();
        if (err) {
          const code = errnoCode(err);
          // Vanished or replaced since its lstat: nothing to list. Anything else (EACCES) fails
          // the scan: a backup that silently misses a folder is worse than one that fails.
          return code === "ENOENT" || code === "ENOTDIR" ? cb(null, []) : cb(err);
        }
        // Names that are not valid UTF-8 come back with U+FFFD; only then look at the raw bytes.
        if (!names.some((n) => n.includes("\uFFFD"))) return this.visitAll(rel, names, cb);
        this.validNames(rel, names).then((valid) => this.visitAll(rel, valid, cb), cb);
      }),
    );
  }

  private visitAll(rel: string, names: string[], cb: (err: unknown, children?: Listed[]) => void): void {
    names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)); // code-unit order, no locale
    const found: Array<Listed | null> = new Array<Listed | null>(names.length);
    let pending = names.length;
    let failed = false;
    const settle = (): void => {
      if (--pending > 0 || failed) return;
      const children: Listed[] = [];
      for (const c of found) if (c) children.push(c);
      cb(null, children);
    };
    if (pending === 0) return cb(null, []);
    for (let i = 0; i < names.length; i++) {
      const relPath = rel === "" ? names[i] : `${rel}/${names[i]}`;
      if (this.opts.exclude?.(relPath)) {
        found[i] = null;
        settle();
        continue;
      }
      this.run((done) =>
        this.visit(relPath, (err, listed) => {
          done();
          if (failed) return;
          if (err) {
            failed = true;
            return cb(err);
          }
          found[i] = listed;
          settle();
        }),
      );
    }
  }

  private async validNames(rel: string, names: string[]): Promise<string[]> {
    const kept = names.filter((n) => !n.includes("\uFFFD"));
    const raw = await fs.promises.readdir(this.under(rel), { encoding: "buffer" }).catch(() => [] as Buffer[]);
    for (const bytes of raw) {
      let name: string;
      try {
        name = utf8.decode(bytes);
      } catch {
        this.onSkipped({ path: joinRel(rel, bytes.toString("utf8")), reason: "invalid-name" });
        continue;
      }
      if (name.includes("\uFFFD")) kept.push(name); // a real U+FFFD in the name
    }
    return kept;
  }

  private visit(relPath: string, cb: (err: Error | null, listed: Listed | null) => void): void {
    const abs = this.under(relPath);
    fs.lstat(abs, (err, st) => {
      if (err) {
        if (errnoCode(err) !== "ENOENT") return cb(err, null);
        this.onSkipped({ path: relPath, reason: "vanished" });
        return cb(null, null);
      }
      const base = { path: relPath, size: st.size, mtimeMs: st.mtimeMs, mode: st.mode & 0o7777 };
      if (st.isFile()) return cb(null, { entry: { ...base, type: "file" } });
      if (st.isDirectory()) return cb(null, { entry: { ...base, type: "dir", size: 0 } });
      if (!st.isSymbolicLink()) {
        this.onSkipped({ path: relPath, reason: "special-file" });
        return cb(null, null);
      }
      fs.readlink(abs, { encoding: "buffer" }, (err2, target) => {
        if (err2) {
          const code = errnoCode(err2);
          if (code !== "ENOENT" && code !== "EINVAL") return cb(err2, null);
          this.onSkipped({ path: relPath, reason: "vanished" });
          return cb(null, null);
        }
        try {
          cb(null, { entry: { ...base, type: "symlink", linkTarget: utf8.decode(target) } });
        } catch {
          this.onSkipped({ path: relPath, reason: "invalid-name" });
          cb(null, null);
        }
      });
    });
  }

  /** Runs a file-system call when fewer than CONCURRENCY are in flight; `done` frees its slot. */
  private run(op: (done: () => void) => void): void {
    this.queue.push(op);
    this.pump();
  }

  private pump(): void {
    while (this.active < CONCURRENCY && this.queueHead < this.queue.length) {
      const op = this.queue[this.queueHead];
      this.queue[this.queueHead++] = NOOP;
      if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        this.queue.splice(0, this.queueHead);
        this.queueHead = 0;
      }
      this.active++;
      let freed = false;
      op(() => {
        if (freed) return;
        freed = true;
        this.active--;
        this.pump();
      });
    }
  }
}

const NOOP = () => undefined;

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

/**
 * Joins a root with relative paths made of plain names (as scans produce) by concatenation:
 * path.join normalises every time, which shows in profiles of trees with 100k entries.
 */
export function absoluteJoiner(root: string): (rel: string) => string {
  const base = path.resolve(root);
  const prefix = base.endsWith("/") ? base : `${base}/`;
  return (rel) => (rel === "" ? base : prefix + rel);
}

function joinRel(dir: string, name: string): string {
  return dir === "" ? name : `${dir}/${name}`;
}
