/**
 * A forward cursor over the uncompressed tar stream of a .tar.gz, pulled on demand: read
 * headers, skip or stream bodies, and jump. With a seek index a jump starts inflating at the
 * member that holds the target (gzip members are independent); a short jump forward just
 * reads on. Without one (archives from before the index, imported or foreign ones) the stream
 * is inflated from the start and jumps only go forward.
 *
 * Headers are parsed here (ustar with its prefix field, PAX `x` records for path, linkpath
 * and size, GNU `L`/`K` long names) only to find entries: nothing read here is trusted to name
 * a place on disk; callers match what they find against the manifest.
 */
import zlib from "node:zlib";
import type { Readable } from "node:stream";
import { ArchiveError } from "../archive/errors";
import type { SeekIndex } from "../archive/seek-index";
import { padded, TAR_BLOCK } from "../archive/tar-header";
import type { ArchiveBytes } from "./archive-bytes";

/** A jump forward of at most this many bytes reads on instead of starting a new member. */
const READ_ON_LIMIT = 2 * 1024 * 1024;
/** PAX / GNU long-name bodies larger than this are refused (no honest name is that long). */
const MAX_META_BYTES = 1024 * 1024;

export interface TarHead {
  /** The full entry name, trailing slash of a folder removed ("backup/files/a.txt"). */
  name: string;
  type: "file" | "dir" | "symlink" | "other";
  size: number;
  linkTarget: string;
  mode: number;
  mtimeMs: number;
  /** Tar offset of the first header block of this entry (PAX or GNU blocks included). */
  offset: number;
}

export class TarCursor {
  private source: Readable | null = null;
  private gunzip: zlib.Gunzip | null = null;
  private iter: AsyncIterator<Buffer> | null = null;
  private pending: Buffer = Buffer.alloc(0);
  /** Tar offset of the next byte `take` returns. */
  private pos = 0;

  constructor(
    private readonly bytes: ArchiveBytes,
    private readonly index: SeekIndex | null,
    private readonly name = "the archive",
  ) {}

  get position(): number {
    return this.pos;
  }

  /** Moves to tar offset `offset`. */
  async seek(offset: number): Promise<void> {
    if (this.iter && offset >= this.pos && (offset - this.pos <= READ_ON_LIMIT || !this.index)) {
      await this.skip(offset - this.pos);
      return;
    }
    if (!this.index) {
      this.open(0, 0);
      await this.skip(offset);
      return;
    }
    const member = Math.floor(offset / this.index.blockSize);
    const start = await this.index.memberStart(member);
    if (start === null) throw this.invalid(`its seek index has no member ${member}`);
    this.open(start, member * this.index.blockSize);
    await this.skip(offset - this.pos);
  }

  /** The next entry's header (PAX and long-name blocks applied), or null at the end of the archive. */
  async nextHeader(): Promise<TarHead | null> {
    const offset = this.pos;
    let longName: string | null = null;
    let longLink: string | null = null;
    let pax: Record<string, string> = {};
    for (;;) {
      const block = await this.readExact(TAR_BLOCK, true);
      if (!block || block.every((b) => b === 0)) return null;
      if (!checksumOk(block)) throw this.invalid(`a tar header at offset ${this.pos - TAR_BLOCK} has a wrong checksum`);
      const flag = String.fromCharCode(block[156] || 0x30);
      const size = numberField(block, 124, 12);
      if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
        if (size > MAX_META_BYTES) throw this.invalid(`an extended header at offset ${this.pos - TAR_BLOCK} is too large`);
        const body = (await this.readExact(padded(size), false))!.subarray(0, size);
        if (flag === "x") pax = { ...pax, ...parsePax(body) };
        else if (flag === "L") longName = cString(body, 0, body.length);
        else if (flag === "K") longLink = cString(body, 0, body.length);
        continue;
      }
      const ustar = block.toString("latin1", 257, 262) === "ustar";
      const prefix = ustar ? cString(block, 345, 155) : "";
      let name = pax.path ?? longName ?? (prefix ? `${prefix}/${cString(block, 0, 100)}` : cString(block, 0, 100));
      const type = flag === "0" || flag === "\0" || flag === "7" ? "file" : flag === "5" ? "dir" : flag === "2" ? "symlink" : "other";
      if (name.endsWith("/")) name = name.replace(/\/+$/, "");
      if (name.startsWith("./")) name = name.slice(2);
      return {
        name,
        type,
        size: pax.size !== undefined ? Number(pax.size) : size,
        linkTarget: pax.linkpath ?? longLink ?? cString(block, 157, 100),
        mode: numberField(block, 100, 8) & 0o7777,
        mtimeMs: (pax.mtime !== undefined ? Number(pax.mtime) : numberField(block, 136, 12)) * 1000,
        offset,
      };
    }
  }

  /** Skips the body of an entry of `size` bytes (and its padding). */
  skipBody(size: number): Promise<void> {
    return this.skip(padded(size));
  }

  /** The body of an entry of `size` bytes, in chunks; the padding is consumed after the last one. */
  async *body(size: number): AsyncGenerator<Buffer> {
    let left = size;
    while (left > 0) {
      const chunk = await this.take(left);
      if (!chunk) throw this.invalid("it ends in the middle of a file");
      left -= chunk.length;
      yield chunk;
    }
    await this.skip(padded(size) - size);
  }

  async close(): Promise<void> {
    this.source?.destroy();
    this.gunzip?.destroy();
    this.source = this.gunzip = null;
    this.iter = null;
  }

  private open(compressedStart: number, tarOffset: number): void {
    this.source?.destroy();
    this.gunzip?.destroy();
    const source = this.bytes.stream(compressedStart);
    const gunzip = zlib.createGunzip({ chunkSize: 256 * 1024 });
    source.on("error", (err) => gunzip.destroy(err));
    source.pipe(gunzip);
    this.source = source;
    this.gunzip = gunzip;
    this.iter = gunzip[Symbol.asyncIterator]();
    this.pending = Buffer.alloc(0);
    this.pos = tarOffset;
  }

  /** Up to `max` bytes, or null at the end of the stream. */
  private async take(max: number): Promise<Buffer | null> {
    if (!this.iter) this.open(0, 0);
    if (this.pending.length === 0) {
      let r: IteratorResult<Buffer>;
      try {
        r = await this.iter!.next();
      } catch (err) {
        throw this.invalid(`it cannot be decompressed (${err instanceof Error ? err.message : String(err)})`, err);
      }
      if (r.done) return null;
      this.pending = r.value;
    }
    const n = Math.min(max, this.pending.length);
    const out = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(n);
    this.pos += n;
    return out;
  }

  private async skip(n: number): Promise<void> {
    while (n > 0) {
      const c = await this.take(n);
      if (!c) throw this.invalid("it ends early");
      n -= c.length;
    }
  }

  /** Exactly n bytes; null at a clean end when `endOk`. */
  private async readExact(n: number, endOk: boolean): Promise<Buffer | null> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const c = await this.take(n - got);
      if (!c) {
        if (endOk && got === 0) return null;
        throw this.invalid("it ends in the middle of an entry");
      }
      parts.push(c);
      got += c.length;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, n);
  }

  private invalid(why: string, cause?: unknown): ArchiveError {
    return new ArchiveError("ARCHIVE_INVALID", `${this.name} cannot be read: ${why}`, { path: this.name, cause });
  }
}

function cString(b: Buffer, at: number, len: number): string {
  const end = b.indexOf(0, at);
  return b.toString("utf8", at, end === -1 || end > at + len ? at + len : end);
}

function numberField(b: Buffer, at: number, len: number): number {
  if (b[at] & 0x80) {
    let v = 0;
    for (let i = at + 1; i < at + len; i++) v = v * 256 + b[i];
    return v;
  }
  const text = b.toString("latin1", at, at + len).replace(/\0.*$/s, "").trim();
  return text ? parseInt(text, 8) : 0;
}

function checksumOk(block: Buffer): boolean {
  const stored = numberField(block, 148, 8);
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  return sum === stored;
}

function parsePax(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < body.length) {
    const space = body.indexOf(0x20, at);
    if (space === -1) break;
    const len = parseInt(body.toString("latin1", at, space), 10);
    if (!(len > 0) || at + len > body.length) break;
    const record = body.toString("utf8", space + 1, at + len - 1);
    const eq = record.indexOf("=");
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    at += len;
  }
  return out;
}
