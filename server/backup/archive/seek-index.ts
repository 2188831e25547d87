/**
 * The seek index of an archive: a small binary file written beside the manifest copy
 * (`.manifests/<archive>.seek`) while the archive is written, so that one file can be read
 * out of a backup without inflating everything in front of it.
 *
 * The archive's tar stream is cut into members of exactly `blockSize` uncompressed bytes
 * (gzip-blocks.ts), so a tar offset `o` lies in member `floor(o / blockSize)`, `o % blockSize`
 * bytes in. The index holds, per manifest entry in manifest order, the tar offset of the
 * entry's header (-1: no body in this archive: a folder, a link, an incremental's unchanged
 * file), and per member its compressed start. Layout (little-endian float64 throughout, exact
 * for offsets below 2^53):
 *
 *   entryCount × f64   tar offset of the header of manifest entry i, or -1
 *   memberCount × f64  compressed offset of member k
 *   trailer (48 bytes) "BHSEEK01", blockSize, entryCount, memberCount, archiveSize, reserved
 *
 * The index is a hint, never trusted: a reader checks the archive's size against the trailer
 * and the tar header it lands on against the manifest entry, and falls back to a full scan.
 */
import fs from "node:fs";

const MAGIC = "BHSEEK01";
const TRAILER_BYTES = 48;
const FLUSH_ENTRIES = 8192;

export class SeekIndexWriter {
  private buf = Buffer.allocUnsafe(FLUSH_ENTRIES * 8);
  private used = 0;
  private entries = 0;
  private written = 0;

  private constructor(
    private readonly fh: fs.promises.FileHandle,
    readonly file: string,
  ) {}

  static async create(file: string): Promise<SeekIndexWriter> {
    return new SeekIndexWriter(await fs.promises.open(file, "wx", 0o600), file);
  }

  /** The next manifest entry's header offset, or -1. */
  append(offset: number): Promise<void> | undefined {
    this.buf.writeDoubleLE(offset, this.used);
    this.used += 8;
    this.entries++;
    return this.used === this.buf.length ? this.flush() : undefined;
  }

  private async flush(): Promise<void> {
    if (this.used === 0) return;
    const out = this.buf.subarray(0, this.used);
    this.buf = Buffer.allocUnsafe(FLUSH_ENTRIES * 8);
    this.used = 0;
    const at = this.written;
    this.written += out.length;
    await this.fh.write(out, 0, out.length, at);
  }

  /** Writes the member table and trailer, fsyncs and closes. */
  async finish(memberStarts: readonly number[], blockSize: number, archiveSize: number): Promise<void> {
    try {
      await this.flush();
      const tail = Buffer.alloc(memberStarts.length * 8 + TRAILER_BYTES);
      memberStarts.forEach((m, i) => tail.writeDoubleLE(m, i * 8));
      const t = memberStarts.length * 8;
      tail.write(MAGIC, t, "latin1");
      tail.writeDoubleLE(blockSize, t + 8);
      tail.writeDoubleLE(this.entries, t + 16);
      tail.writeDoubleLE(memberStarts.length, t + 24);
      tail.writeDoubleLE(archiveSize, t + 32);
      await this.fh.write(tail, 0, tail.length, this.written);
      await this.fh.sync();
    } finally {
      await this.fh.close();
    }
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await fs.promises.rm(this.file, { force: true });
  }
}

/** A seek index opened for reading. */
export class SeekIndex {
  private constructor(
    private readonly fh: fs.promises.FileHandle,
    readonly blockSize: number,
    readonly entryCount: number,
    readonly memberCount: number,
    readonly archiveSize: number,
  ) {}

  /** The index at `file`, or null when there is none or it is not a valid one. */
  static async open(file: string): Promise<SeekIndex | null> {
    const fh = await fs.promises.open(file, "r").catch(() => null);
    if (!fh) return null;
    try {
      const { size } = await fh.stat();
      if (size < TRAILER_BYTES) throw new Error("short");
      const t = Buffer.alloc(TRAILER_BYTES);
      await fh.read(t, 0, TRAILER_BYTES, size - TRAILER_BYTES);
      if (t.toString("latin1", 0, 8) !== MAGIC) throw new Error("magic");
      const [blockSize, entries, members, archiveSize] = [8, 16, 24, 32].map((o) => t.readDoubleLE(o));
      const whole = (n: number) => Number.isSafeInteger(n) && n >= 0;
      if (![blockSize, entries, members, archiveSize].every(whole) || blockSize === 0) throw new Error("fields");
      if ((entries + members) * 8 + TRAILER_BYTES !== size) throw new Error("size");
      return new SeekIndex(fh, blockSize, entries, members, archiveSize);
    } catch {
      await fh.close().catch(() => undefined);
      return null;
    }
  }

  /** Entry offsets in manifest order, in batches (read once, front to back). */
  async *entryOffsets(): AsyncGenerator<Float64Array> {
    const batch = FLUSH_ENTRIES;
    const buf = Buffer.alloc(batch * 8);
    for (let i = 0; i < this.entryCount; i += batch) {
      const n = Math.min(batch, this.entryCount - i);
      await this.fh.read(buf, 0, n * 8, i * 8);
      const out = new Float64Array(n);
      for (let j = 0; j < n; j++) out[j] = buf.readDoubleLE(j * 8);
      yield out;
    }
  }

  /** Compressed offset of member k, or null past the end. */
  async memberStart(k: number): Promise<number | null> {
    if (!(k >= 0 && k < this.memberCount)) return null;
    const b = Buffer.alloc(8);
    await this.fh.read(b, 0, 8, (this.entryCount + k) * 8);
    return b.readDoubleLE(0);
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}
