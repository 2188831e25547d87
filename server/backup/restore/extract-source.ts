/**
 * The decompressed bytes of a .tar.gz, for the tar reader (extract-tar.ts), in one of two ways:
 *
 * - Indexed (archives of our GzipBlockWriter, whose every gzip member states its own length in
 *   its header, see archive/gzip-blocks.ts): members are read ahead one read each, stored
 *   members (already-compressed media: most of a NAS) are unframed and CRC-checked without
 *   zlib and handed on without a copy, deflated members are inflated on libuv's thread pool,
 *   several at once, while the main thread parses and hashes the ones before. Buffers are
 *   reused: no page faults and no garbage collections for the bulk of the data.
 * - Streamed (anything else: archives from before the index, GNU tar's, foreign ones): Node's
 *   gunzip stream, one member after another.
 *
 * Either way a chunk handed out in `cur` (and every piece of it) is valid only until the next
 * fill(): whoever keeps bytes longer copies them (the destination writer does).
 *
 * Refused (ArchiveRefusal "corrupt" unless noted): a file that is not gzip; damaged or truncated
 * compressed data; any data after the last gzip member (even zeros); in an indexed archive, a
 * member that does not carry the index, states a length that is not its own, or is over
 * MAX_MEMBER_BYTES / MAX_MEMBER_OUTPUT; more uncompressed bytes per compressed byte than the
 * limit, checked on every chunk once 4 MiB are out ("limit").
 *
 * The compressed bytes can be copied to a new file as they are read (`copyTo`): a restore from
 * a file puts the archive into the catalog in the same single read that verifies it.
 *
 * Encrypted archives (age, `.tar.gz.age`, see server/backup/crypto/) are read the same two ways
 * with the plaintext taken from the age payload: the header is unlocked with `keys` before
 * anything else happens (a wrong key is an AppError, WRONG_KEY / KEY_REQUIRED, with nothing
 * written), then every 64 KiB chunk is authenticated as it is read, and a modified, truncated or
 * extended file is refused ("corrupt"). The copy then receives the encrypted bytes.
 *
 * Memory stays flat: at most READ_AHEAD.members members (and about READ_AHEAD.bytes of them
 * and their inflated data) are in memory ahead of the reader; the gunzip stream respects
 * back-pressure; copies in flight are bounded.
 */
import fs from "node:fs";
import { promisify } from "node:util";
import { Readable, Transform } from "node:stream";
import zlib from "node:zlib";
import { INDEXED_HEADER_BYTES, MAX_BLOCK_SIZE, indexedMemberLength } from "../archive/gzip-blocks";
import { AGE_MAGIC, AgePayloadReader, fdRead, isAgeError, isAgeHead, plaintextPieces, type AgeKeys } from "../crypto";
import { keyError } from "../encryption-errors";
import { ArchiveRefusal, refuse } from "./extract-errors";
import { CopyHasher } from "./copy-hasher";

/** The compression ratio is only judged once this much has been decompressed. */
export const RATIO_GRACE_BYTES = 4 * 1024 * 1024;
const CHUNK = 256 * 1024;
/** Largest decompressed size of one indexed member accepted: the writer's largest block. */
export const MAX_MEMBER_OUTPUT = MAX_BLOCK_SIZE;
/** Largest indexed member accepted: a block, plus what stored framing or deflate can add to it. */
export const MAX_MEMBER_BYTES = MAX_BLOCK_SIZE + MAX_BLOCK_SIZE / 64 + 1024;
/** Members read ahead of the one being parsed, and the bytes they may hold, compressed and not. */
const READ_AHEAD: ReadAhead = { members: 4, bytes: 8 * 1024 * 1024 };
/**
 * Behind a decryption thread, which reads ahead itself (decrypt-ahead.ts): the same speed in
 * the bench, and 25-40 MB less peak RSS than READ_AHEAD.
 */
const READ_AHEAD_DECRYPTED: ReadAhead = { members: 2, bytes: 4 * 1024 * 1024 };

interface ReadAhead {
  members: number;
  /** Compressed and inflated bytes of the members ahead. */
  bytes: number;
}
const SLAB_BYTES = (1 << 20) + 64 * 1024;
const GZIP_TRAILER = 8;

const EMPTY = Buffer.alloc(0);
const zlibCrc32 = (zlib as unknown as { crc32?: (d: Buffer, v?: number) => number }).crc32;
const gunzipInfo = promisify(zlib.gunzip) as unknown as (buf: Buffer, opts: zlib.ZlibOptions & { info: true }) => Promise<{ buffer: Buffer; engine: zlib.Gunzip }>;

export interface SourceCounters {
  /** Compressed bytes consumed by the decompressor. */
  compressedRead: number;
  compressedTotal: number;
  decompressed: number;
}

/** Where TarReader takes the tar stream from; see the module comment for the lifetime of `cur`. */
export interface ArchiveSource {
  /** The unread rest of the current chunk. */
  cur: Buffer;
  readonly counters: SourceCounters;
  /** Makes `cur` non-empty; false at the end of the decompressed stream. */
  fill(): Promise<boolean>;
  /**
   * After the whole stream was read: the copy's size and SHA-256, once it is fsynced and
   * closed; null without `copyTo`.
   */
  finishCopy(): Promise<{ bytes: number; sha256: string } | null>;
  /** Stops reading (wakes a pending fill); safe to call more than once. */
  close(): void;
}

/**
 * Opens an archive for reading; `copyTo`: a new file (created here, "wx+") that receives every
 * byte of the archive file as read (for an encrypted archive, the encrypted bytes).
 */
export async function openArchiveSource(archivePath: string, maxRatio: number, copyTo?: string, keys?: AgeKeys): Promise<ArchiveSource> {
  const fd = await fs.promises.open(archivePath, "r");
  let indexed = false;
  let size: number;
  let age: AgePayloadReader | null = null;
  let copy: ArchiveCopy | null = null;
  try {
    const st = await fd.stat();
    if (!st.isFile()) refuse("corrupt", "it is not a regular file");
    size = st.size;
    if (size === 0) refuse("corrupt", "the file is empty");
    const head = Buffer.alloc(Math.max(INDEXED_HEADER_BYTES, AGE_MAGIC.length));
    const { bytesRead } = await fd.read(head, 0, head.length, 0);
    if (isAgeHead(head.subarray(0, bytesRead))) {
      const cipherCopy = copyTo ? new ArchiveCopy(fs.openSync(copyTo, "wx+", 0o600)) : null;
      copy = cipherCopy;
      age = await ageCall(() => AgePayloadReader.open(fdRead(fd.fd), size, keys ?? {}, cipherCopy ? (b, at) => cipherCopy.write(b, at) : undefined));
      head.fill(0);
      const n = Math.min(INDEXED_HEADER_BYTES, age.size);
      await ageCall(() => age!.readPlaintext(head.subarray(0, n), 0));
      if (n < 2 || head[0] !== 0x1f || head[1] !== 0x8b) refuse("corrupt", "it decrypts, but what it holds is not a gzip-compressed tar archive (.tar.gz)");
      indexed = zlibCrc32 !== undefined && indexedMemberLength(head.subarray(0, n)) !== null;
    } else {
      if (bytesRead < 2 || head[0] !== 0x1f || head[1] !== 0x8b) {
        refuse("corrupt", "it is not a gzip-compressed tar archive (.tar.gz)");
      }
      indexed = zlibCrc32 !== undefined && indexedMemberLength(head.subarray(0, Math.min(bytesRead, INDEXED_HEADER_BYTES))) !== null;
    }
  } catch (err) {
    copy?.close();
    await fd.close();
    throw err;
  }
  if (age) {
    const cipherCopy = copy;
    // Read once, front to back: unless the reads also feed the copy, the chunks are opened
    // ahead on a thread of their own, overlapping the work of this one.
    const ahead = cipherCopy ? null : age.readAhead(fd.fd);
    const reader = ahead ?? age;
    const stopAhead = async () => void (await ahead?.close());
    const read = (into: Buffer, position: number) => ageCall(() => reader.readPlaintext(into, position));
    if (indexed) {
      return new MemberSource(read, fd, reader.size, maxRatio, null, {
        fileCopy: cipherCopy,
        fileSize: size,
        stopReaders: stopAhead,
        readAhead: ahead ? READ_AHEAD_DECRYPTED : READ_AHEAD,
      });
    }
    const pieces = ageIterable(plaintextPieces(reader));
    return new StreamSource(Readable.from(pieces, { objectMode: false }), reader.size, maxRatio, null, () => stopAhead().then(() => fd.close()), cipherCopy, size);
  }
  if (!indexed) await fd.close();
  copy = copyTo ? new ArchiveCopy(fs.openSync(copyTo, "wx+", 0o600)) : null;
  // The indexed reader keeps the descriptor it checked; the stream opens the path again.
  const plainFd = fd.fd;
  return indexed
    ? new MemberSource((into, position) => readFully(plainFd, into, position), fd, size, maxRatio, copy)
    : new StreamSource(fs.createReadStream(archivePath, { highWaterMark: 1 << 20 }), size, maxRatio, copy);
}

/** The age layer's errors in the reader's terms: a wrong or missing key as the app's error, damage as "corrupt". */
async function ageCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!isAgeError(err)) throw err;
    if (err.code === "KEY_REQUIRED" || err.code === "WRONG_PASSPHRASE" || err.code === "WRONG_IDENTITY") throw keyError(err);
    return refuse("corrupt", err.message, undefined, err);
  }
}

async function* ageIterable(pieces: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
  for (;;) {
    const r = await ageCall(() => pieces.next());
    if (r.done) return;
    yield r.value;
  }
}

/** The ratio check both readers make after each chunk. */
function checkRatio(c: SourceCounters, maxRatio: number): void {
  if (c.decompressed <= RATIO_GRACE_BYTES) return;
  const ratio = c.decompressed / Math.max(1, c.compressedRead);
  if (ratio > maxRatio) {
    refuse(
      "limit",
      `it decompresses to more than ${maxRatio} times its compressed size (${Math.round(ratio)}:1 after ${c.decompressed} bytes), which is what a decompression bomb looks like`,
    );
  }
}

function trailingData(bytes: number): never {
  return refuse("corrupt", `it has ${bytes} bytes of unexpected data after the end of the compressed stream`);
}

/** An indexed archive goes on where no member starts: what follows the last member, or a member that states a wrong length. */
function notAMember(bytes: number, at: number): never {
  return refuse("corrupt", `it has ${bytes} bytes of unexpected data after the end of the compressed stream, or its compressed data is damaged (no gzip member starts at byte ${at})`);
}

/** zlib's errors become refusals; anything else (an I/O error reading the file) passes unchanged. */
function gzipFailure(err: unknown): unknown {
  const code = (err as { code?: string } | null)?.code;
  if (code === "Z_BUF_ERROR") return new ArchiveRefusal("corrupt", "it is truncated: the compressed data ends early", undefined, { cause: err });
  if (typeof code === "string" && code.startsWith("Z_")) {
    return new ArchiveRefusal("corrupt", `its compressed data is damaged (${(err as Error).message})`, undefined, { cause: err });
  }
  return err;
}

// ---------------------------------------------------------------------------------------------
// Indexed: one member at a time, read ahead

interface Member {
  /** Offset of the member in the file. */
  at: number;
  length: number;
  /** Holds the member's bytes in [0, length); reused once the member is done. */
  slab: Buffer;
  /** Memory the member holds: its slab, and its inflated data unless it is stored. */
  bytes: number;
  /** The member's decompressed bytes, in order (pieces of `slab` for stored members). */
  output: Promise<Buffer[]>;
  /** Decompressed size, from the member's trailer (ISIZE). */
  outputBytes: number;
  /** Settles when the copy of the member is written (resolved at once without a copy). */
  copied: Promise<void>;
}

class MemberSource implements ArchiveSource {
  readonly counters: SourceCounters;
  private readonly readAhead: ReadAhead;
  cur: Buffer = EMPTY;
  private pieces: Buffer[] = [];
  private piece = 0;
  private current: Member | null = null;
  private readonly ahead: Member[] = [];
  private readonly slabs: Buffer[] = [];
  /** Members read but not yet given back (ahead, current, or waiting for their copy), and their memory. */
  private live = 0;
  private liveBytes = 0;
  /** Where the next member starts, and its header once read (null: the first member, not read yet). */
  private next = 0;
  private nextHeader: Buffer | null = null;
  private reading: Promise<void> | null = null;
  private readAll = false;
  private failure: unknown = null;
  private closed = false;
  private wake: (() => void) | null = null;

  constructor(
    /** Reads exactly into.length bytes of the compressed stream at a position (of the plaintext, for an encrypted archive). */
    private readonly readAt: (into: Buffer, position: number) => Promise<void>,
    /** Owns the file's descriptor; closed once no read uses it any more. */
    private readonly handle: fs.promises.FileHandle,
    size: number,
    private readonly maxRatio: number,
    /** The copy of the compressed members (plain archives). */
    private readonly copy: ArchiveCopy | null,
    /** Reading an encrypted file's plaintext (absent for a plain archive). */
    private readonly encrypted?: {
      /** The copy of the encrypted file, fed by its reader; and that file's size. */
      fileCopy: ArchiveCopy | null;
      fileSize: number;
      /** Stops the decryption thread that reads the descriptor (settles once it no longer does). */
      stopReaders: () => Promise<void>;
      readAhead: ReadAhead;
    },
  ) {
    this.counters = { compressedRead: 0, compressedTotal: size, decompressed: 0 };
    this.readAhead = encrypted?.readAhead ?? READ_AHEAD;
    this.pump();
  }

  async fill(): Promise<boolean> {
    while (this.cur.length === 0) {
      if (this.piece < this.pieces.length) {
        this.cur = this.pieces[this.piece++];
        continue;
      }
      // Every piece of the current member has been handed out and, by the contract on `cur`,
      // is no longer used.
      if (this.current) this.giveBack(this.current);
      this.current = null;
      this.pieces = [];
      const m = await this.nextMember();
      if (!m) return false;
      this.current = m;
      try {
        this.pieces = await m.output;
      } catch (err) {
        throw gzipFailure(err);
      }
      this.piece = 0;
      this.counters.compressedRead = m.at + m.length;
      this.counters.decompressed += m.outputBytes;
      checkRatio(this.counters, this.maxRatio);
    }
    return true;
  }

  async finishCopy(): Promise<{ bytes: number; sha256: string } | null> {
    if (this.encrypted?.fileCopy) return this.encrypted.fileCopy.finish(this.encrypted.fileSize);
    return this.copy ? this.copy.finish(this.counters.compressedTotal) : null;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    // A read in flight still uses the descriptor: it could otherwise be reused under it.
    const stopped = this.encrypted?.stopReaders().catch(() => undefined);
    void Promise.all([this.reading, stopped]).finally(() => this.handle.close().catch(() => undefined));
    this.copy?.close();
    this.encrypted?.fileCopy?.close();
  }

  private async nextMember(): Promise<Member | null> {
    for (;;) {
      if (this.closed) throw new Error("the archive was closed while it was read");
      if (this.ahead.length > 0) return this.ahead.shift()!;
      if (this.failure) throw this.failure;
      if (this.readAll) return null;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }

  /** Starts the next read when there is room ahead (one member is always allowed). */
  private pump(): void {
    if (this.reading || this.readAll || this.failure || this.closed) return;
    if (this.live > 0 && (this.live >= this.readAhead.members || this.liveBytes >= this.readAhead.bytes)) return;
    this.reading = this.readMember()
      .catch((err) => {
        this.failure ??= err;
      })
      .finally(() => {
        this.reading = null;
        this.wake?.();
        this.pump();
      });
  }

  /**
   * Reads the next member, and the header of the one after it in the same read (that is how
   * its length is known). Checks the member's framing and starts decompressing it.
   */
  private async readMember(): Promise<void> {
    const size = this.counters.compressedTotal;
    const at = this.next;
    let header = this.nextHeader;
    if (!header) {
      header = Buffer.allocUnsafe(INDEXED_HEADER_BYTES);
      await this.readAt(header, at);
    }
    const length = this.checkedLength(header, at);
    const end = at + length;
    if (end > size) refuse("corrupt", "it is truncated: the compressed data ends early");
    const slab = this.slabs.pop() ?? Buffer.allocUnsafeSlow(SLAB_BYTES);
    const buf = slab.length >= length + INDEXED_HEADER_BYTES ? slab : Buffer.allocUnsafeSlow(length + INDEXED_HEADER_BYTES);
    if (buf !== slab) this.slabs.push(slab);
    header.copy(buf, 0);
    // This member's rest, and as much of the next header as there is.
    const readEnd = Math.min(end + INDEXED_HEADER_BYTES, size);
    await this.readAt(buf.subarray(INDEXED_HEADER_BYTES, readEnd - at), at + INDEXED_HEADER_BYTES);
    if (this.closed) return;

    const bytes = buf.subarray(0, length);
    const outputBytes = bytes.readUInt32LE(length - 4);
    if (outputBytes > MAX_MEMBER_OUTPUT) {
      refuse("corrupt", `its compressed data is damaged (the gzip member at byte ${at} holds ${outputBytes} bytes, more than the ${MAX_MEMBER_OUTPUT} allowed)`);
    }
    const stored = unframeStored(bytes);
    const member: Member = {
      at,
      length,
      slab: buf,
      bytes: buf.length + (stored ? 0 : outputBytes),
      outputBytes,
      output: stored ? checkStored(bytes, stored) : inflateMember(bytes, outputBytes),
      copied: this.copy ? this.copy.write(bytes, at) : Promise.resolve(),
    };
    member.output.catch(() => undefined); // awaited in order by fill(); may fail before then
    member.copied.catch(() => undefined); // a failed copy write fails finishCopy()
    this.live++;
    this.liveBytes += member.bytes;
    this.ahead.push(member);
    this.next = end;
    if (end === size) {
      this.readAll = true;
      return;
    }
    if (size - end < INDEXED_HEADER_BYTES) notAMember(size - end, end);
    this.nextHeader = Buffer.from(buf.subarray(length, length + INDEXED_HEADER_BYTES));
  }

  /** The length a member header states, which must be one a member can have. */
  private checkedLength(header: Buffer, at: number): number {
    const length = indexedMemberLength(header);
    if (length === null) {
      if (header[0] === 0x1f && header[1] === 0x8b) {
        refuse("corrupt", `its compressed data is damaged (the gzip member at byte ${at} has no block index, unlike the ones before it)`);
      }
      notAMember(this.counters.compressedTotal - at, at);
    }
    if (length < INDEXED_HEADER_BYTES + 2 + GZIP_TRAILER || length > MAX_MEMBER_BYTES) {
      refuse("corrupt", `its compressed data is damaged (the gzip member at byte ${at} states an impossible length, ${length} bytes)`);
    }
    return length;
  }

  /** A member fully consumed: its slab is reused once its copy is written. */
  private giveBack(m: Member): void {
    const reuse = () => {
      this.live--;
      this.liveBytes -= m.bytes;
      if (m.slab.length === SLAB_BYTES && this.slabs.length < this.readAhead.members) this.slabs.push(m.slab);
      this.pump();
    };
    m.copied.then(reuse, reuse);
  }
}

async function readFully(fd: number, into: Buffer, position: number): Promise<void> {
  for (let off = 0; off < into.length; ) {
    const n = await new Promise<number>((resolve, reject) =>
      fs.read(fd, into, off, into.length - off, position + off, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead))),
    );
    if (n === 0) refuse("corrupt", "it is truncated: the compressed data ends early");
    off += n;
  }
}

/** A stored member's pieces, once its CRC-32 and ISIZE are checked (on the main thread: ~5 GB/s). */
async function checkStored(member: Buffer, pieces: Buffer[]): Promise<Buffer[]> {
  const end = member.length - GZIP_TRAILER;
  let crc = 0;
  let total = 0;
  for (const p of pieces) {
    crc = zlibCrc32!(p, crc);
    total += p.length;
  }
  if (crc >>> 0 !== member.readUInt32LE(end)) refuse("corrupt", "its compressed data is damaged (incorrect data check)");
  if (total >>> 0 !== member.readUInt32LE(end + 4)) refuse("corrupt", "its compressed data is damaged (incorrect length check)");
  return pieces;
}

/**
 * Any other member goes to zlib (on the thread pool), which checks its header, CRC-32 and
 * length, and must consume exactly the member and produce exactly its ISIZE.
 */
async function inflateMember(member: Buffer, outputBytes: number): Promise<Buffer[]> {
  let inflated: { buffer: Buffer; engine: zlib.Gunzip };
  try {
    inflated = await gunzipInfo(member, { info: true, maxOutputLength: Math.max(1, outputBytes), chunkSize: CHUNK });
  } catch (err) {
    // More data than the member's trailer states.
    if ((err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") refuse("corrupt", "its compressed data is damaged (incorrect length check)", undefined, err);
    throw err;
  }
  const { buffer, engine } = inflated;
  if (engine.bytesWritten !== member.length) trailingData(member.length - engine.bytesWritten);
  if (buffer.length !== outputBytes) refuse("corrupt", "its compressed data is damaged (incorrect length check)");
  return [buffer];
}

/**
 * The data of a member whose deflate stream is made only of stored blocks, exactly as
 * storedGzipMember frames it (header byte 0 or 1, LEN, NLEN = ~LEN), ending right before the
 * trailer: pieces of `member`. Null for anything else, which zlib then judges.
 */
function unframeStored(member: Buffer): Buffer[] | null {
  const end = member.length - GZIP_TRAILER;
  const pieces: Buffer[] = [];
  let off = INDEXED_HEADER_BYTES;
  for (;;) {
    if (off + 5 > end) return null;
    const flags = member[off];
    if (flags > 1) return null;
    const len = member.readUInt16LE(off + 1);
    if ((len ^ member.readUInt16LE(off + 3)) !== 0xffff) return null;
    off += 5;
    if (off + len > end) return null;
    if (len > 0) pieces.push(member.subarray(off, off + len));
    off += len;
    if (flags === 1) return off === end ? pieces : null;
  }
}

// ---------------------------------------------------------------------------------------------
// Streamed: Node's gunzip

/** The decompressed bytes of any .tar.gz, from Node's async gunzip (off the main thread). */
class StreamSource implements ArchiveSource {
  readonly counters: SourceCounters;
  cur: Buffer = EMPTY;
  private readonly gunzip: zlib.Gunzip;
  private readonly iterator: AsyncIterator<Buffer>;
  private bytesFed = 0;
  private ended = false;

  constructor(
    /** The compressed bytes: the file, or the plaintext of an encrypted one. */
    private readonly input: Readable,
    size: number,
    private readonly maxRatio: number,
    private readonly copy: ArchiveCopy | null,
    private readonly onClose: () => Promise<void> = async () => undefined,
    /** The copy of an encrypted file, fed by its reader; and that file's size. */
    private readonly fileCopy: ArchiveCopy | null = null,
    private readonly fileSize = size,
  ) {
    this.counters = { compressedRead: 0, compressedTotal: size, decompressed: 0 };
    this.gunzip = zlib.createGunzip({ chunkSize: CHUNK });
    this.input.on("data", (c: Buffer) => {
      this.bytesFed += c.length;
    });
    this.input.on("error", (err) => this.gunzip.destroy(err));
    if (copy) {
      const tee = copy.tee();
      tee.on("error", (err) => this.gunzip.destroy(err));
      this.input.pipe(tee).pipe(this.gunzip);
    } else {
      this.input.pipe(this.gunzip);
    }
    this.iterator = this.gunzip[Symbol.asyncIterator]();
  }

  async finishCopy(): Promise<{ bytes: number; sha256: string } | null> {
    if (this.fileCopy) return this.fileCopy.finish(this.fileSize);
    return this.copy ? this.copy.finish(this.counters.compressedTotal) : null;
  }

  async fill(): Promise<boolean> {
    while (this.cur.length === 0) {
      if (this.ended) return false;
      let r: IteratorResult<Buffer>;
      try {
        r = await this.iterator.next();
      } catch (err) {
        throw gzipFailure(err);
      }
      if (r.done) {
        this.ended = true;
        this.counters.compressedRead = this.gunzip.bytesWritten;
        if (this.gunzip.bytesWritten < this.bytesFed) trailingData(this.bytesFed - this.gunzip.bytesWritten);
        return false;
      }
      this.cur = r.value;
      this.counters.decompressed += r.value.length;
      this.counters.compressedRead = this.gunzip.bytesWritten;
      checkRatio(this.counters, this.maxRatio);
    }
    return true;
  }

  close(): void {
    this.input.destroy();
    this.gunzip.destroy();
    this.copy?.close();
    this.fileCopy?.close();
    void this.onClose().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// The copy

/**
 * The copy written while reading. Chunks are written at their own offsets on the thread pool,
 * so the copy overlaps the decompression instead of adding to it, and hashed by reading back
 * what was written, on a thread of its own (copy-hasher.ts). A failed write fails the read
 * (the tee) or finish().
 */
class ArchiveCopy {
  private readonly hasher: CopyHasher;
  private bytes = 0;
  private closed = false;
  private inFlight = 0;
  private failure: Error | null = null;
  private readonly waiters: Array<() => void> = [];
  private closeWhenWritten = false;

  /** `fd` is open for reading too: the hasher reads the copy back. */
  constructor(private readonly fd: number) {
    this.hasher = new CopyHasher(fd);
  }

  /** Writes `chunk` at `at`; settles when it is written. */
  write(chunk: Buffer, at: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    this.bytes += chunk.length;
    this.inFlight += chunk.length;
    return new Promise((resolve, reject) =>
      writeFully(this.fd, chunk, at, (err) => {
        this.inFlight -= chunk.length;
        this.failure ??= err;
        if (!err) this.hasher.markWritten(at, at + chunk.length);
        this.waiters.splice(0).forEach((wake) => wake());
        if (this.closeWhenWritten && this.inFlight === 0) this.close();
        if (err) reject(err);
        else resolve();
      }),
    );
  }

  /** For the stream: each chunk is handed on at once while at most COPY_IN_FLIGHT bytes are being written. */
  tee(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        if (this.failure) return done(this.failure);
        this.write(chunk, this.bytes).catch(() => undefined);
        if (this.inFlight <= COPY_IN_FLIGHT) return done(null, chunk);
        this.whenBelow(COPY_IN_FLIGHT).then(() => done(this.failure, this.failure ? undefined : chunk));
      },
    });
  }

  private async whenBelow(limit: number): Promise<void> {
    while (this.inFlight > limit) await new Promise<void>((wake) => this.waiters.push(wake));
  }

  /** Once every write is done: fsync, close; its size must be the archive's (every byte read was copied). */
  async finish(expectedBytes: number): Promise<{ bytes: number; sha256: string }> {
    await this.whenBelow(0);
    if (this.failure) throw this.failure;
    if (this.bytes !== expectedBytes) throw new Error(`the copy of the archive has ${this.bytes} bytes, the archive ${expectedBytes}`);
    const [hashed] = await Promise.all([
      this.hasher.finish(),
      new Promise<void>((resolve, reject) => fs.fsync(this.fd, (err) => (err ? reject(err) : resolve()))),
    ]);
    if (hashed.bytes !== expectedBytes) throw new Error(`the copy of the archive reads back as ${hashed.bytes} bytes, the archive ${expectedBytes}`);
    this.close();
    return hashed;
  }

  /**
   * Closes the descriptor once nothing uses it any more: no write (it could otherwise be reused
   * under one) and no read of the hasher's (its thread is ended first).
   */
  close(): void {
    if (this.closed) return;
    if (this.inFlight > 0) {
      this.closeWhenWritten = true;
      return;
    }
    this.closed = true;
    const fd = this.fd;
    void this.hasher.close().finally(() => fs.closeSync(fd));
  }
}

const COPY_IN_FLIGHT = 16 * 1024 * 1024;

function writeFully(fd: number, buf: Buffer, position: number, done: (err: Error | null) => void): void {
  fs.write(fd, buf, 0, buf.length, position, (err, n) => {
    if (err) return done(err);
    if (n < buf.length) return writeFully(fd, buf.subarray(n), position + n, done);
    done(null);
  });
}
