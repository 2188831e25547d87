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
}

/** lstat calls in flight at once: enough to hide thread-pool latency, few enough to leave it room. */
const STAT_CONCURRENCY = 32;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export async function scanTree(root: string, opts: ScanOptions = {}): Promise<ScannedEntry[]> {
  const { signal, onSkipped } = opts;
  throwIfAborted(signal);
  let rootStat: fs.Stats;
  try {
    rootStat = await fs.promises.stat(root);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return [];
    throw err;
  }
  if (!rootStat.isDirectory()) throw new Error(`${root} is not a directory`);

  const out: ScannedEntry[] = [];
  const pendingDirs: string[] = [""]; // relative paths of directories still to list
  const limit = limiter(STAT_CONCURRENCY);

  const visit = async (rel: string, name: Buffer): Promise<void> => {
    let decoded: string;
    try {
      decoded = utf8.decode(name);
    } catch {
      onSkipped?.({ path: joinRel(rel, name.toString("utf8")), reason: "invalid-name" });
      return;
    }
    const relPath = joinRel(rel, decoded);
    const abs = path.join(root, relPath);
    let st: fs.Stats;
    try {
      st = await limit(() => fs.promises.lstat(abs));
    } catch (err) {
      if (errnoCode(err) === "ENOENT") {
        onSkipped?.({ path: relPath, reason: "vanished" });
        return;
      }
      throw err;
    }
    const base = { path: relPath, size: st.size, mtimeMs: st.mtimeMs, mode: st.mode & 0o7777 };
    if (st.isFile()) {
      out.push({ ...base, type: "file" });
    } else if (st.isDirectory()) {
      out.push({ ...base, type: "dir", size: 0 });
      pendingDirs.push(relPath);
    } else if (st.isSymbolicLink()) {
      let target: Buffer;
      try {
        target = await limit(() => fs.promises.readlink(abs, { encoding: "buffer" }));
      } catch (err) {
        if (errnoCode(err) === "ENOENT" || errnoCode(err) === "EINVAL") {
          onSkipped?.({ path: relPath, reason: "vanished" });
          return;
        }
        throw err;
      }
      let linkTarget: string;
      try {
        linkTarget = utf8.decode(target);
      } catch {
        onSkipped?.({ path: relPath, reason: "invalid-name" });
        return;
      }
      out.push({ ...base, type: "symlink", linkTarget });
    } else {
      onSkipped?.({ path: relPath, reason: "special-file" });
    }
  };

  // Directories are listed one after another, their entries stat'ed concurrently; a deep
  // tree with few entries per folder still keeps STAT_CONCURRENCY calls going across levels
  // because each level's subdirectories are queued and listed as soon as they are found.
  const listDir = async (rel: string): Promise<void> => {
    throwIfAborted(signal);
    let names: Buffer[];
    try {
      names = await fs.promises.readdir(path.join(root, rel), { encoding: "buffer" });
    } catch (err) {
      const code = errnoCode(err);
      if (code === "ENOENT" || code === "ENOTDIR") return; // vanished or replaced since its lstat
      throw err;
    }
    await Promise.all(names.map((n) => visit(rel, n)));
  };

  const running = new Set<Promise<void>>();
  let failure: unknown = null;
  while (pendingDirs.length > 0 || running.size > 0) {
    while (pendingDirs.length > 0 && running.size < 8 && !failure) {
      const p: Promise<void> = listDir(pendingDirs.pop()!)
        .catch((err) => {
          failure ??= err;
        })
        .finally(() => running.delete(p));
      running.add(p);
    }
    if (running.size > 0) await Promise.race(running);
    if (failure && running.size === 0) break;
    if (failure) continue;
  }
  if (failure) throw failure;
  throwIfAborted(signal);

  out.sort((a, b) => comparePaths(a.path, b.path));
  return out;
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

function joinRel(dir: string, name: string): string {
  return dir === "" ? name : `${dir}/${name}`;
}

/** Runs at most `n` of the given async functions at once. */
function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: Array<() => void> = [];
  const next = () => {
    if (active < n && queue.length > 0) {
      active++;
      queue.shift()!();
    }
  };
  return <T>(fn: () => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      queue.push(() => {
        fn()
          .then(resolve, reject)
          .finally(() => {
            active--;
            next();
          });
      });
      next();
    });
}
