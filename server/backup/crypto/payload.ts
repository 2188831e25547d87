/**
 * The age payload: a 16-byte nonce, then the plaintext in 64 KiB chunks, each sealed with
 * ChaCha20-Poly1305 under HKDF-SHA256(file key, nonce, "payload"); a chunk's nonce is an
 * 11-byte big-endian counter and a flag byte, 1 on the last chunk only. Every chunk but the
 * last is full; the last may be full, and is empty only when the whole plaintext is.
 *
 * Native node:crypto throughout (~1.9 GB/s per core for ChaCha20-Poly1305 on the development
 * machine), so encryption fits in the backup's budget on the main thread.
 *
 * - AgeStreamEncryptor: takes the bytes of an output in order (e.g. the gzip members of the
 *   archive writer) and writes header, nonce and sealed chunks; memory: one chunk.
 * - AgePayloadReader: random access to the plaintext of an encrypted file, given its file key:
 *   read(into, position) reads and authenticates only the chunks that cover the range (each
 *   chunk is independently authenticated, so seeking is safe). Sequential readers pay one
 *   decryption per chunk (the last chunk decrypted is cached); a reader that goes through the
 *   whole file once (a restore, a verification) takes readAhead() instead, which opens the
 *   chunks ahead on a thread of its own (decrypt-ahead.ts).
 */
import crypto from "node:crypto";
import fs from "node:fs";
import { AgeError, damagedChunk, shrankWhileRead, unmarkedLastChunk } from "./errors";
import { CHUNK, chunkNonce, openChunk, SEALED_CHUNK, TAG } from "./chunk";
import { PlaintextAhead } from "./decrypt-ahead";
import { checkHeaderMac, isAgeHead, makeHeader, MAX_HEADER_BYTES, parseHeader, unlockHeader, type AgeHeader, type AgeKeys, type AgeTarget } from "./header";

export { CHUNK };
export const NONCE_BYTES = 16;

function payloadKey(fileKey: Buffer, nonce: Buffer): Buffer {
  return Buffer.from(crypto.hkdfSync("sha256", fileKey, nonce, "payload", 32));
}

/** The sealed sizes of a plaintext: everything the payload adds is 16 bytes per chunk. */
export function sealedPayloadBytes(plaintextBytes: number): number {
  const chunks = Math.max(1, Math.ceil(plaintextBytes / CHUNK));
  return NONCE_BYTES + plaintextBytes + chunks * TAG;
}

export class AgeStreamEncryptor {
  private readonly key: Buffer;
  private readonly nonce = crypto.randomBytes(NONCE_BYTES);
  private readonly pending = Buffer.allocUnsafe(CHUNK);
  private pendingBytes = 0;
  private counter = 0;
  private started = false;
  private readonly hash = crypto.createHash("sha256");
  private bytes = 0;

  /** Use AgeStreamEncryptor.create: the header needs the (async) scrypt for passphrases. */
  private constructor(
    private readonly header: Buffer,
    fileKey: Buffer,
    private readonly out: (chunks: Buffer[]) => Promise<void>,
  ) {
    this.key = payloadKey(fileKey, this.nonce);
  }

  static async create(target: AgeTarget, out: (chunks: Buffer[]) => Promise<void>): Promise<AgeStreamEncryptor> {
    const { header, fileKey } = await makeHeader(target);
    return new AgeStreamEncryptor(header, fileKey, out);
  }

  /** Encrypts and writes `chunks` (which may be reused once this resolves). */
  write(chunks: Buffer[]): Promise<void> {
    const sealed = this.begin();
    for (const c of chunks) {
      let off = 0;
      while (off < c.length) {
        if (this.pendingBytes === CHUNK) {
          this.seal(this.pending, false, sealed);
          this.pendingBytes = 0;
        }
        // More than a chunk left: this one is not the last, seal it in place.
        if (this.pendingBytes === 0 && c.length - off > CHUNK) {
          this.seal(c.subarray(off, off + CHUNK), false, sealed);
          off += CHUNK;
          continue;
        }
        const n = Math.min(CHUNK - this.pendingBytes, c.length - off);
        c.copy(this.pending, this.pendingBytes, off, off + n);
        this.pendingBytes += n;
        off += n;
      }
    }
    return this.emit(sealed);
  }

  /** Seals the last chunk and writes it; the encrypted output's size and SHA-256. */
  async finish(): Promise<{ sizeBytes: number; sha256: string }> {
    const sealed = this.begin();
    this.seal(this.pending.subarray(0, this.pendingBytes), true, sealed);
    this.pendingBytes = 0;
    await this.emit(sealed);
    return { sizeBytes: this.bytes, sha256: this.hash.digest("hex") };
  }

  private begin(): Buffer[] {
    if (this.started) return [];
    this.started = true;
    return [this.header, this.nonce];
  }

  private seal(plain: Buffer, last: boolean, into: Buffer[]): void {
    const c = crypto.createCipheriv("chacha20-poly1305", this.key, chunkNonce(this.counter++, last), { authTagLength: TAG });
    into.push(c.update(plain));
    c.final();
    into.push(c.getAuthTag());
  }

  private emit(sealed: Buffer[]): Promise<void> {
    if (sealed.length === 0) return Promise.resolve();
    for (const b of sealed) {
      this.hash.update(b);
      this.bytes += b.length;
    }
    return this.out(sealed);
  }
}

/** Reads up to into.length bytes at `position`; resolves with the count (0 at the end). */
export type PositionalRead = (into: Buffer, position: number) => Promise<number>;

export function fdRead(fd: number): PositionalRead {
  return (into, position) =>
    new Promise((resolve, reject) => fs.read(fd, into, 0, into.length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

async function readExactly(read: PositionalRead, into: Buffer, position: number): Promise<number> {
  let off = 0;
  while (off < into.length) {
    const n = await read(into.subarray(off), position + off);
    if (n === 0) break;
    off += n;
  }
  return off;
}

/** Reads and parses the header of an age file; null when the file is not age at all. */
export async function readAgeHeader(read: PositionalRead, fileSize: number): Promise<AgeHeader | null> {
  const head = Buffer.alloc(Math.min(fileSize, MAX_HEADER_BYTES));
  const n = await readExactly(read, head, 0);
  if (!isAgeHead(head.subarray(0, n))) return null;
  return parseHeader(head.subarray(0, n));
}

export class AgePayloadReader {
  /** Size of the plaintext. */
  readonly size: number;
  private readonly chunks: number;
  private readonly key: Buffer;
  private cachedIndex = -1;
  private cached: Buffer = Buffer.alloc(0);
  private scratch: Buffer = Buffer.alloc(0);

  /**
   * @param payloadStart where the payload's nonce starts (the header's length)
   * @param onCiphertext sees every byte of the file after the header exactly once, in file
   *   order, as it is read (sequential readers only: a copy of the encrypted file)
   */
  constructor(
    private readonly read: PositionalRead,
    private readonly fileSize: number,
    private readonly payloadStart: number,
    /** The file's key: keep it (in memory) to open the file again without a passphrase or scrypt (withFileKey). */
    readonly fileKey: Buffer,
    nonce: Buffer,
    private readonly onCiphertext?: (bytes: Buffer, at: number) => Promise<void>,
  ) {
    const sealed = fileSize - payloadStart - NONCE_BYTES;
    if (sealed < TAG) throw new AgeError("TRUNCATED", "it is truncated: the encrypted payload ends early");
    this.chunks = Math.ceil(sealed / SEALED_CHUNK);
    const lastSealed = sealed - (this.chunks - 1) * SEALED_CHUNK;
    if (lastSealed < TAG) throw new AgeError("TRUNCATED", "it is truncated: the encrypted payload ends inside a chunk's tag");
    if (lastSealed === TAG && this.chunks > 1) {
      throw new AgeError("PAYLOAD_DAMAGED", "its encrypted payload ends with an empty chunk, which age does not write");
    }
    this.size = sealed - this.chunks * TAG;
    this.key = payloadKey(fileKey, nonce);
    this.copiedUpTo = payloadStart + NONCE_BYTES;
  }

  private copiedUpTo: number;

  /** Opens an age file: reads the header, unlocks it with `keys`, checks the MAC. */
  static async open(
    read: PositionalRead,
    fileSize: number,
    keys: AgeKeys,
    onCiphertext?: (bytes: Buffer, at: number) => Promise<void>,
  ): Promise<AgePayloadReader> {
    return AgePayloadReader.openWith(read, fileSize, (header) => unlockHeader(header, keys), onCiphertext);
  }

  /**
   * Opens an age file with its file key (from an earlier open: `reader.fileKey`), for random
   * access to its plaintext (readPlaintext) without the passphrase or scrypt; the header's MAC
   * is checked with it.
   */
  static async withFileKey(read: PositionalRead, fileSize: number, fileKey: Buffer): Promise<AgePayloadReader> {
    return AgePayloadReader.openWith(read, fileSize, async (header) => {
      checkHeaderMac(header, fileKey);
      return fileKey;
    });
  }

  private static async openWith(
    read: PositionalRead,
    fileSize: number,
    unlock: (header: AgeHeader) => Promise<Buffer>,
    onCiphertext?: (bytes: Buffer, at: number) => Promise<void>,
  ): Promise<AgePayloadReader> {
    const header = await readAgeHeader(read, fileSize);
    if (!header) throw new AgeError("NOT_AGE", "it is not an age-encrypted file");
    const fileKey = await unlock(header);
    const nonce = Buffer.alloc(NONCE_BYTES);
    if ((await readExactly(read, nonce, header.length)) < NONCE_BYTES) throw new AgeError("TRUNCATED", "it is truncated: the encrypted payload ends early");
    if (onCiphertext) {
      const head = Buffer.alloc(header.length + NONCE_BYTES);
      await readExactly(read, head, 0);
      await onCiphertext(head, 0);
    }
    return new AgePayloadReader(read, fileSize, header.length, fileKey, nonce, onCiphertext);
  }

  /** Reads exactly into.length plaintext bytes at `position` (a range past the end throws RangeError). */
  async readPlaintext(into: Buffer, position: number): Promise<void> {
    if (position < 0 || position + into.length > this.size) throw new RangeError(`read of ${into.length} bytes at ${position} beyond the plaintext's ${this.size}`);
    const end = position + into.length;
    let index = Math.floor(position / CHUNK);
    while (index * CHUNK < end) {
      const plains = index === this.cachedIndex ? [this.cached] : await this.load(index, Math.floor((end - 1) / CHUNK));
      for (const plain of plains) {
        const chunkStart = index * CHUNK;
        const from = Math.max(position, chunkStart);
        const to = Math.min(end, chunkStart + plain.length);
        plain.copy(into, from - position, from - chunkStart, to - chunkStart);
        index++;
      }
    }
  }

  /**
   * The same plaintext read front to back with the chunks opened ahead on a thread of their own
   * (decrypt-ahead.ts): for a reader that goes through the whole file once. `fd`: this file's
   * descriptor, open until the returned reader's close() has settled. Not for a reader that
   * copies the ciphertext (onCiphertext).
   */
  readAhead(fd: number): PlaintextAhead {
    if (this.onCiphertext) throw new Error("readAhead does not feed onCiphertext");
    return new PlaintextAhead({
      fd,
      fileSize: this.fileSize,
      dataStart: this.payloadStart + NONCE_BYTES,
      chunks: this.chunks,
      key: this.key,
      size: this.size,
    });
  }

  /** An empty plaintext has nothing to read: its one (empty, last) chunk is authenticated here. */
  async checkEmpty(): Promise<void> {
    if (this.size === 0 && this.cachedIndex !== 0) await this.load(0, 0);
  }

  /** Decrypts chunks first..last (at most 2 MiB of them) with one read; the last one stays cached. */
  private async load(first: number, last: number): Promise<Buffer[]> {
    last = Math.min(last, first + 31);
    const from = this.payloadStart + NONCE_BYTES + first * SEALED_CHUNK;
    const to = Math.min(this.payloadStart + NONCE_BYTES + (last + 1) * SEALED_CHUNK, this.fileSize);
    if (this.scratch.length < to - from) this.scratch = Buffer.allocUnsafe(Math.max(to - from, 2 * SEALED_CHUNK));
    const sealed = this.scratch.subarray(0, to - from);
    if ((await readExactly(this.read, sealed, from)) < sealed.length) throw shrankWhileRead();
    if (this.onCiphertext && from <= this.copiedUpTo && to > this.copiedUpTo) {
      await this.onCiphertext(Buffer.from(sealed.subarray(this.copiedUpTo - from)), this.copiedUpTo);
      this.copiedUpTo = to;
    }
    const plains: Buffer[] = [];
    for (let i = first; i <= last; i++) {
      const off = (i - first) * SEALED_CHUNK;
      plains.push(this.open(i, sealed.subarray(off, Math.min(off + SEALED_CHUNK, sealed.length))));
    }
    this.cached = plains[plains.length - 1];
    this.cachedIndex = last;
    return plains;
  }

  private open(index: number, sealed: Buffer): Buffer {
    const opened = openChunk(this.key, index, this.chunks, sealed);
    if (typeof opened !== "string") return opened;
    throw opened === "unmarked-last" ? unmarkedLastChunk() : damagedChunk(index, this.chunks);
  }
}


/**
 * The plaintext as a stream of pieces of up to `pieceBytes`, in order (for readers that want a
 * stream: Node's gunzip, npm tar's parser). Pieces are fresh buffers.
 */
export async function* plaintextPieces(reader: Pick<AgePayloadReader, "size" | "readPlaintext" | "checkEmpty">, pieceBytes = 1 << 20): AsyncGenerator<Buffer> {
  if (reader.size === 0) await reader.checkEmpty();
  for (let at = 0; at < reader.size; at += pieceBytes) {
    const piece = Buffer.allocUnsafe(Math.min(pieceBytes, reader.size - at));
    await reader.readPlaintext(piece, at);
    yield piece;
  }
}
