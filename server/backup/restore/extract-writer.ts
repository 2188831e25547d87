/**
 * Writes accepted entries into the destination folders, fast and without ever following a link.
 *
 * - Files are created with O_CREAT|O_EXCL|O_NOFOLLOW: nothing that already exists (a file, or a
 *   symlink planted in the destination) is opened, truncated or written through.
 * - Folders are created one level at a time (a bounded cache remembers those that exist). A
 *   name that already exists is accepted only if lstat says it is a real folder, never a
 *   symlink to one.
 * - Symlinks from the archive are created last, after every file has been written (and nothing
 *   is written after them), so no entry can be written through one.
 * - Permissions: mode & 0o777 only (never setuid, setgid or sticky); no owners (no chown).
 *   Mtimes are applied after the last file and link (setTime), folder modes at the very end,
 *   deepest folders first, so a read-only folder can still be filled and a file written into a
 *   folder does not change its mtime.
 * - Memory does not grow with the number of entries: folders and links waiting for the end are
 *   spooled to files in `workDir`, and the cache of folders known to exist is bounded.
 * - Throughput: folders and small files are created by a thread of their own, in order and with
 *   synchronous calls (extract-create-thread.ts), while this thread goes on reading; large files
 *   are streamed in 1 MiB buffers through the pool, one in flight while the next is filled, up to
 *   `concurrency` at once, once their folder exists. Bodies are copied because the reader reuses
 *   its buffers; the writer reuses its own, so memory stays at a few batches plus concurrency ×
 *   1 MiB and no buffer is allocated per file.
 *
 * Errors of the file system (ENOSPC, EACCES, EEXIST when the destination is not empty) keep
 * their Node code. After abort() has returned nothing more is written.
 */
import fs from "node:fs";
import path from "node:path";
import { LineSpool } from "../archive/line-spool";
import { writevAll } from "../archive/write-all";
import { CreateThread } from "./extract-create-thread";

export const SMALL_FILE_MAX = 1024 * 1024;
const BATCH_BYTES = 1024 * 1024;
const FINISH_CONCURRENCY = 16;
const DIR_CREATE_MODE = 0o755;
/** Folders remembered as existing (a forgotten one is only checked again: mkdir, then lstat). */
const KNOWN_DIRS_MAX = 16384;

const CREATE_FLAGS =
  fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | (fs.constants.O_NOFOLLOW ?? 0);

let umaskCache: number | undefined;
function umask(): number {
  umaskCache ??= process.umask();
  return umaskCache;
}

/** Bounded concurrency for the large files being written (each awaited by its caller). */
class TaskPool {
  private active = 0;
  private readonly waiters: Array<() => void> = [];
  private readonly idle: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async acquire(): Promise<void> {
    while (this.active >= this.limit) await new Promise<void>((r) => this.waiters.push(r));
    this.active++;
  }

  release(): void {
    this.active--;
    this.waiters.shift()?.();
    if (this.active === 0) for (const wake of this.idle.splice(0)) wake();
  }

  /** Waits until no slot is taken. */
  async drain(): Promise<void> {
    while (this.active > 0) await new Promise<void>((r) => this.idle.push(r));
  }
}

interface PendingLink {
  root: string;
  parent: string[];
  abs: string;
  target: string;
  mtimeMs: number | null;
}

interface PendingDir {
  abs: string;
  depth: number;
  mode: number;
  mtimeMs: number | null;
}

export class DestinationWriter {
  private readonly pool: TaskPool;
  private readonly creator = new CreateThread({ createFlags: CREATE_FLAGS, dirMode: DIR_CREATE_MODE, umask: umask(), mapError: creationError });
  /** Folders queued on the creation thread: settled once made (after a flush). */
  private readonly dirs = new Map<string, Promise<void>>();
  private links: LineSpool | null = null;
  private folders: LineSpool | null = null;
  /** The small file being read (the reader reuses its buffers), and the large files' buffers. */
  private readonly smallBuffer = Buffer.allocUnsafeSlow(SMALL_FILE_MAX);
  private readonly batchBuffers: Buffer[] = [];

  constructor(
    concurrency: number,
    /** A private folder for the spools of folders and links (removed by the caller). */
    private readonly workDir: string,
  ) {
    this.pool = new TaskPool(concurrency);
  }

  /** Throws the first write failure, if any (called between entries). */
  check(): void {
    this.creator.throwIfFailed();
  }

  /**
   * Queues a folder (`segments` below `root`; none: the root itself) and its parents on the
   * creation thread. What is queued there later can rely on it; anything else awaits folderReady.
   */
  ensureDir(root: string, segments: readonly string[]): Promise<void> {
    const abs = segments.length === 0 ? root : path.join(root, ...segments);
    let p = this.dirs.get(abs);
    if (!p) {
      if (this.dirs.size >= KNOWN_DIRS_MAX) this.dirs.clear();
      if (segments.length > 0) void this.ensureDir(root, segments.slice(0, -1));
      p = segments.length === 0 ? this.creator.root(root) : this.creator.dir(abs);
      this.dirs.set(abs, p);
    }
    return p;
  }

  /** The folder exists on disk (for work done outside the creation thread). */
  private folderReady(root: string, segments: readonly string[]): Promise<void> {
    const p = this.ensureDir(root, segments);
    this.creator.flush();
    return p;
  }

  /** A folder entry: created now (in the background), mode and mtime applied at the end. */
  async addDir(root: string, segments: readonly string[], mode: number | null, mtimeMs: number | null): Promise<void> {
    void this.ensureDir(root, segments);
    if (segments.length === 0) return;
    this.folders ??= await LineSpool.create(path.join(this.workDir, "folders.jsonl"));
    const dir: PendingDir = { abs: path.join(root, ...segments), depth: segments.length, mode: (mode ?? 0o755) & 0o777, mtimeMs };
    await this.folders.append(JSON.stringify(dir));
  }

  /** A symlink entry, created by createLinks(). */
  async addSymlink(root: string, segments: readonly string[], target: string, mtimeMs: number | null): Promise<void> {
    this.links ??= await LineSpool.create(path.join(this.workDir, "links.jsonl"));
    const link: PendingLink = { root, parent: segments.slice(0, -1), abs: path.join(root, ...segments), target, mtimeMs };
    await this.links.append(JSON.stringify(link));
  }

  /**
   * A small file (size <= SMALL_FILE_MAX): `fill` copies its body into a buffer of the writer's
   * (the reader reuses its own), then it is queued on the creation thread, after its folders.
   */
  async writeSmallFile(root: string, segments: readonly string[], size: number, mode: number | null, fill: (into: Buffer) => Promise<void>): Promise<void> {
    const body = this.smallBuffer.subarray(0, size);
    await fill(body);
    this.check();
    void this.ensureDir(root, segments.slice(0, -1));
    await this.creator.file(path.join(root, ...segments), (mode ?? 0o644) & 0o777, body);
  }

  /**
   * A large file, streamed: `next` yields its body piece by piece (and hashes it), each piece
   * valid until the next call; pieces are copied into 1 MiB buffers of the writer's, written
   * one buffer behind the reading. Resolves when the file is written and closed.
   */
  async writeStreamedFile(root: string, segments: readonly string[], mode: number | null, next: () => Promise<Buffer | null>): Promise<void> {
    await this.pool.acquire();
    try {
      const abs = path.join(root, ...segments);
      await this.folderReady(root, segments.slice(0, -1));
      const fd = await createExclusive(abs, mode);
      let inFlight: Promise<void> | null = null;
      let batch = this.batchBuffer();
      let used = 0;
      try {
        for (let c = await next(); c !== null; c = await next()) {
          for (let off = 0; off < c.length; ) {
            const n = c.copy(batch, used, off);
            off += n;
            used += n;
            if (used < batch.length) continue;
            if (inFlight) await inFlight;
            const full = batch;
            inFlight = writeAllAt(fd, [full]).finally(() => this.batchBuffers.push(full));
            batch = this.batchBuffer();
            used = 0;
          }
        }
        if (inFlight) await inFlight;
        inFlight = null;
        if (used > 0) await writeAllAt(fd, [batch.subarray(0, used)]);
        await fixMode(fd, mode);
      } finally {
        // Never close while a write is pending: the descriptor could be reused by another file.
        if (inFlight) await inFlight.catch(() => undefined);
        this.batchBuffers.push(batch);
        await closeFd(fd);
      }
    } finally {
      this.pool.release();
    }
  }

  private batchBuffer(): Buffer {
    return this.batchBuffers.pop() ?? Buffer.allocUnsafeSlow(BATCH_BYTES);
  }

  /**
   * Sets an entry's mtime (after every write and link: see the module comment). Synchronous:
   * one utimensat of an inode in cache costs less than a trip through the thread pool (measured
   * on the benchmark tree: 0.3 s of CPU for 35,000 entries, against 1.2 s through the pool);
   * callers set times in batches and yield between them.
   */
  setTime(abs: string, mtimeMs: number): void {
    this.check();
    fs.lutimesSync(abs, Date.now() / 1000, mtimeMs / 1000);
  }

  /** Waits for every write started; rejects with the first failure. */
  async drain(): Promise<void> {
    await this.creator.drain();
    await this.pool.drain();
  }

  /** After a failure: waits until nothing is being written any more. Never rejects. */
  async abort(): Promise<void> {
    await this.creator.stop();
    await this.pool.drain().catch(() => undefined);
  }

  /** Once every file is written: the symlinks, with their mtimes from the headers. */
  async createLinks(): Promise<void> {
    await this.drain();
    if (!this.links) return;
    const links = this.links;
    this.links = null;
    const now = Date.now() / 1000;
    for await (const lines of links.lines()) {
      await forEachLimited(lines, async (line) => {
        const l = JSON.parse(line) as PendingLink;
        await this.folderReady(l.root, l.parent);
        await fs.promises.symlink(l.target, l.abs);
        if (l.mtimeMs !== null) await fs.promises.lutimes(l.abs, now, l.mtimeMs / 1000);
      });
    }
    await links.remove();
  }

  /**
   * The last step: folder modes, and their mtimes from the headers when `headerTimes`
   * (otherwise setTime gave them theirs). Folders come in reverse archive order, one pass:
   * archives list a folder before what it holds (tar and our writer both walk that way), so
   * backwards every folder comes after its contents, and a read-only folder is closed last.
   * Folders next to each other at one depth (siblings) are done concurrently.
   */
  async finishFolders(headerTimes: boolean): Promise<void> {
    await this.drain();
    if (!this.folders) return;
    const now = Date.now() / 1000;
    const createdMode = DIR_CREATE_MODE & ~umask();
    const finish = async (d: PendingDir) => {
      // Folders below a destination root are created by this writer in an empty staging
      // folder, with createdMode: only other modes need a chmod.
      if (d.mode !== createdMode) await fs.promises.chmod(d.abs, d.mode);
      if (headerTimes && d.mtimeMs !== null) await fs.promises.lutimes(d.abs, now, d.mtimeMs / 1000);
    };
    for await (const lines of this.folders.linesReversed()) {
      const dirs = lines.map((line) => JSON.parse(line) as PendingDir);
      for (let i = 0; i < dirs.length; ) {
        let j = i + 1;
        while (j < dirs.length && dirs[j].depth === dirs[i].depth) j++;
        await forEachLimited(dirs.slice(i, j), finish);
        i = j;
      }
    }
  }

  /** Ends the creation thread and removes the spools (after success or failure). */
  async cleanUp(): Promise<void> {
    await this.creator.stop();
    await this.creator.close();
    await this.links?.remove();
    await this.folders?.remove();
  }
}

/*
 * Raw descriptors with callback I/O rather than FileHandle: thousands of small files are
 * written per second, and FileHandle's per-object bookkeeping showed up as GC time.
 */
function createExclusive(abs: string, mode: number | null): Promise<number> {
  return new Promise((resolve, reject) =>
    fs.open(abs, CREATE_FLAGS, (mode ?? 0o644) & 0o777, (err, fd) => {
      if (!err) return resolve(fd);
      reject(existsError(abs, err));
    }),
  );
}

/** EEXIST/ELOOP at creation: the admin's words; other errors unchanged. */
function existsError(abs: string, err: NodeJS.ErrnoException): Error {
  if (err.code !== "EEXIST" && err.code !== "ELOOP") return err;
  return Object.assign(new Error(`Cannot restore ${abs}: something is already there (the restore folder must be empty).`), { code: err.code, path: abs, cause: err });
}

/** A failure of the creation thread: a file that could not be created gets the admin's words. */
function creationError(err: NodeJS.ErrnoException, abs: string, isFile: boolean): Error {
  return isFile ? existsError(abs, err) : err;
}

function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.close(fd, (err) => (err ? reject(err) : resolve())));
}

/** The creation mode passed through the umask; set it exactly when the umask took bits away. */
function fixMode(fd: number, mode: number | null): Promise<void> | undefined {
  const perm = (mode ?? 0o644) & 0o777;
  if ((perm & umask()) === 0) return undefined;
  return new Promise((resolve, reject) => fs.fchmod(fd, perm, (err) => (err ? reject(err) : resolve())));
}

function writev(fd: number, bufs: Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => fs.writev(fd, bufs, (err, n) => (err ? reject(err) : resolve(n))));
}

/** Writes every byte of `chunks` at the current position (writev may write less). */
function writeAllAt(fd: number, chunks: Buffer[]): Promise<void> {
  return writevAll((bufs) => writev(fd, bufs), chunks);
}

async function forEachLimited<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  let failure: unknown;
  const worker = async () => {
    while (!failed && next < items.length) {
      try {
        await fn(items[next++]);
      } catch (err) {
        if (!failed) failure = err;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(FINISH_CONCURRENCY, items.length) }, worker));
  if (failed) throw failure;
}
