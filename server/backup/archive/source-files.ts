/**
 * Reading source files for the archive so that a tar entry's header always matches its body.
 *
 * Two ways, by size:
 * - Files up to IN_MEMORY_MAX_BYTES are read whole into memory (several at once, ahead of the
 *   writer) and only then given a header, so the header states exactly the bytes we have. The
 *   read counts as stable when a stat taken after it matches the one before (size, mtime and
 *   ctime) and the byte count equals the size; otherwise it is retried, up to MAX_ATTEMPTS
 *   times, then the backup fails naming the file. The "before" stat of the first attempt is the
 *   scan's (which saves one system call per file); a file changed since the scan just costs
 *   one retry.
 * - Bigger files are streamed: open, fstat, header with that size, then exactly that many bytes
 *   straight into the archive's block buffers. If the file ends early, or a stat after the
 *   last byte shows another size or mtime, the header already written cannot be taken back:
 *   the backup fails with an error naming the file (SOURCE_CHANGED), and the caller discards
 *   the partial archive. Holding multi-GB files in memory to retry is not an option.
 *
 * Files are opened O_NOFOLLOW | O_NONBLOCK: a path that has become a symlink is not followed,
 * and one that has become a FIFO does not block. A path that no longer holds a regular file
 * (deleted, or replaced by a link, a directory, a FIFO...) is "vanished": the writer skips it.
 *
 * Detection relies on mtime/ctime, which the kernel updates at clock-tick granularity: a write
 * landing in the same few milliseconds as the stat taken before the read, with the size
 * unchanged, is not detected. GNU tar has the same limit.
 */
import fs from "node:fs";

export const IN_MEMORY_MAX_BYTES = 8 * 1024 * 1024;
export const MAX_ATTEMPTS = 4;

const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

export interface StatLike {
  size: number;
  mtimeMs: number;
  ctimeMs?: number;
}

export type SmallRead =
  | { kind: "ok"; data: Buffer; size: number; mtimeMs: number; mode: number }
  | { kind: "vanished" }
  | { kind: "too-big" }
  | { kind: "changed" }
  | { kind: "error"; error: unknown };

/**
 * Reads a whole small file consistently; never rejects (errors come back as a result). Reads
 * into `into` (at least scanned.size + 1 bytes, see ReadArena) when the file still fits there,
 * else into a buffer of its own.
 */
export async function readSmallFile(file: string, scanned: StatLike, into?: Buffer): Promise<SmallRead> {
  let before: StatLike = scanned;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    let fd: number;
    try {
      fd = await openFile(file);
    } catch (err) {
      return isVanishedError(err) ? { kind: "vanished" } : { kind: "error", error: err };
    }
    try {
      if (attempt > 1) {
        const st = await fstat(fd);
        if (!st.isFile()) return { kind: "vanished" };
        before = st;
      }
      if (before.size > IN_MEMORY_MAX_BYTES) return { kind: "too-big" };
      // One byte more than expected, so that growth shows as a full buffer.
      const buf = into && into.length >= before.size + 1 ? into.subarray(0, before.size + 1) : Buffer.allocUnsafe(before.size + 1);
      let n = 0;
      for (;;) {
        const r = await read(fd, buf, n, buf.length - n, n);
        n += r;
        // Having the expected size after a short read almost always means end of file (and the
        // stat below confirms the size); short reads elsewhere (FUSE, network file systems)
        // just go on until read() returns 0 or the buffer is full.
        if (r === 0 || n === buf.length || n === before.size) break;
      }
      const after = await fstat(fd);
      if (!after.isFile()) return { kind: "vanished" };
      if (n === before.size && sameStat(before, after)) {
        return { kind: "ok", data: buf.subarray(0, n), size: n, mtimeMs: after.mtimeMs, mode: after.mode & 0o7777 };
      }
    } catch (err) {
      return isVanishedError(err) ? { kind: "vanished" } : { kind: "error", error: err };
    } finally {
      fs.close(fd, () => undefined);
    }
  }
  return { kind: "changed" };
}

/** An open source file being streamed; see the module comment. */
export class StreamedFile {
  private constructor(
    readonly fd: number,
    readonly size: number,
    readonly mtimeMs: number,
    readonly mode: number,
  ) {}

  /** Opens and stats the file; null when it is no longer a regular file. */
  static async open(file: string): Promise<StreamedFile | null> {
    let fd: number;
    try {
      fd = await openFile(file);
    } catch (err) {
      if (isVanishedError(err)) return null;
      throw err;
    }
    try {
      const st = await fstat(fd);
      if (!st.isFile()) {
        fs.close(fd, () => undefined);
        return null;
      }
      return new StreamedFile(fd, st.size, st.mtimeMs, st.mode & 0o7777);
    } catch (err) {
      fs.close(fd, () => undefined);
      throw err;
    }
  }

  read(buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    return read(this.fd, buf, offset, length, position);
  }

  /** True when the file still has the size and mtime it had when opened. */
  async unchangedSinceOpen(): Promise<boolean> {
    const st = await fstat(this.fd);
    return st.size === this.size && st.mtimeMs === this.mtimeMs;
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => fs.close(this.fd, (err) => (err ? reject(err) : resolve())));
  }
}

function sameStat(a: StatLike, b: StatLike): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && (a.ctimeMs === undefined || a.ctimeMs === b.ctimeMs);
}

/** ENOENT: deleted. ELOOP: now a symlink (O_NOFOLLOW). ENOTDIR: a parent is no longer a directory. */
export function isVanishedError(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === "ENOENT" || code === "ELOOP" || code === "ENOTDIR";
}

function openFile(file: string): Promise<number> {
  return new Promise((resolve, reject) => fs.open(file, OPEN_FLAGS, (err, fd) => (err ? reject(err) : resolve(fd))));
}

function fstat(fd: number): Promise<fs.Stats> {
  return new Promise((resolve, reject) => fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st))));
}

function read(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) =>
    fs.read(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))),
  );
}

/**
 * Memory for the read-ahead: one buffer used as a ring. Reads are reserved in archive order and
 * released in the same order once written, so a ring is enough, and the hundreds of megabytes
 * of small files of a NAS pass through the same few megabytes instead of becoming garbage
 * (fresh buffers per file made the process's RSS grow by the GC's slack, ~100 MB).
 */
export class ReadArena {
  private readonly buf: Buffer;
  private readonly live: Array<{ start: number; end: number }> = [];

  constructor(readonly capacity: number) {
    this.buf = Buffer.allocUnsafeSlow(capacity);
  }

  /** `n` contiguous bytes, or null when they are not free now (n > capacity never fits). */
  reserve(n: number): Buffer | null {
    if (n > this.capacity) return null;
    let start: number;
    if (this.live.length === 0) start = 0;
    else {
      const oldest = this.live[0].start;
      const newest = this.live[this.live.length - 1];
      const head = newest.end;
      if (newest.start >= oldest) {
        // Free space is [head, capacity) and [0, oldest).
        if (this.capacity - head >= n) start = head;
        else if (oldest >= n) start = 0;
        else return null;
      } else {
        // Wrapped: free space is [head, oldest).
        if (oldest - head >= n) start = head;
        else return null;
      }
    }
    this.live.push({ start, end: start + n });
    return this.buf.subarray(start, start + n);
  }

  /** Frees the oldest reservation. */
  releaseOldest(): void {
    this.live.shift();
  }

  get reservations(): number {
    return this.live.length;
  }
}
