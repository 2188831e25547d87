/**
 * The plaintext of an age payload read front to back, opened ahead on a thread of its own.
 *
 * Why a thread: a restore's reading thread already unframes, checks, hashes and hands out
 * every byte; opening the 64 KiB chunks there too (~0.6 s of CPU per GB, plus a copy) added up
 * with that work (encrypted restore 1.26x the plain one in the bench) instead of overlapping
 * it. Here a worker reads the sealed chunks (synchronous reads on the same descriptor),
 * authenticates and decrypts them in order, and transfers the plaintext in 1 MiB blocks that
 * come back to it for reuse once the reader has moved past them.
 *
 * Guarantees: no byte is handed out before its chunk is authenticated; a chunk that fails
 * (modified, truncated, unmarked last chunk, file shrinking under the read) fails the read of
 * its block, and every later one, with the same AgeError as AgePayloadReader; memory: at most
 * AHEAD_BLOCKS blocks, plus the thread's garbage (see worker-garbage.ts); close() ends the
 * thread, and its promise settles once no read of the descriptor can happen any more.
 *
 * Reads must move forward: a read may start anywhere in the block of the previous read's end
 * or later (the indexed reader re-reads nothing; a gzip stream reads straight on).
 */
import { Worker } from "node:worker_threads";
import { CHUNK, CHUNK_SOURCE, SEALED_CHUNK, type ChunkFailure } from "./chunk";
import { damagedChunk, shrankWhileRead, unmarkedLastChunk } from "./errors";
import { exposeGcToWorkers, WORKER_GARBAGE_SOURCE } from "./worker-garbage";

const BLOCK_CHUNKS = 16;
const BLOCK_BYTES = BLOCK_CHUNKS * CHUNK;
/**
 * Blocks that exist at once: the one being read, and the one opened ahead of it. The thread
 * opens a block in ~0.6 ms, the reader uses one in ~3 ms: one ahead keeps it waiting never,
 * and each block more is a MiB of peak memory.
 */
const AHEAD_BLOCKS = 2;

export interface SealedPayload {
  /** The descriptor of the age file (it stays open for as long as the thread runs). */
  fd: number;
  fileSize: number;
  /** Offset of the first sealed chunk (after header and nonce). */
  dataStart: number;
  chunks: number;
  /** The payload key (HKDF of the file key and nonce). */
  key: Buffer;
  /** Plaintext size. */
  size: number;
}

type Failure = { kind: ChunkFailure; chunk: number } | { kind: "shrank" } | { kind: "io"; message: string; code?: string };

// Plain CommonJS run with eval: the app is bundled by Next and run by tsx, and this needs neither.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const crypto = require("node:crypto");
const fs = require("node:fs");
${WORKER_GARBAGE_SOURCE}
const CHUNK = ${CHUNK}, SEALED = ${SEALED_CHUNK}, BLOCK_CHUNKS = ${BLOCK_CHUNKS};
const { fd, fileSize, dataStart, chunks } = workerData;
const key = Buffer.from(workerData.key);
const sealedBuf = Buffer.allocUnsafeSlow(BLOCK_CHUNKS * SEALED);
const free = [];
let credits = workerData.credits;
let next = 0;
let stopped = false;

${CHUNK_SOURCE}
function fail(failure) {
  stopped = true;
  parentPort.postMessage({ type: "error", failure });
}
function readBlock(from, length) {
  let off = 0;
  while (off < length) {
    const n = fs.readSync(fd, sealedBuf, off, length - off, from + off);
    if (n === 0) return false;
    off += n;
  }
  return true;
}
function produce() {
  while (credits > 0 && next < chunks && !stopped) {
    const first = next;
    const last = Math.min(chunks, first + BLOCK_CHUNKS) - 1;
    const from = dataStart + first * SEALED;
    const length = Math.min(dataStart + (last + 1) * SEALED, fileSize) - from;
    try {
      if (!readBlock(from, length)) return fail({ kind: "shrank" });
    } catch (err) {
      return fail({ kind: "io", message: String(err && err.message || err), code: err && err.code });
    }
    const block = free.pop() || Buffer.allocUnsafeSlow(BLOCK_CHUNKS * CHUNK);
    let out = 0;
    for (let i = first; i <= last; i++) {
      const off = (i - first) * SEALED;
      const sealed = sealedBuf.subarray(off, Math.min(off + SEALED, length));
      const plain = openChunk(key, i, chunks, sealed);
      if (typeof plain === "string") return fail({ kind: plain, chunk: i });
      out += plain.copy(block, out);
      collectChunkGarbage(plain.length);
    }
    next = last + 1;
    credits--;
    parentPort.postMessage({ type: "block", first, bytes: out, buf: block.buffer }, [block.buffer]);
  }
}
parentPort.on("message", (m) => {
  if (m.buf) free.push(Buffer.from(m.buf));
  credits++;
  produce();
});
produce();
`;

interface BlockMessage {
  type: "block";
  first: number;
  bytes: number;
  buf: ArrayBuffer;
}

export class PlaintextAhead {
  /** Received blocks not yet given back, by block number. */
  private readonly blocks = new Map<number, Buffer>();
  /** Blocks below this have been given back. */
  private lowest = 0;
  private failure: { block: number; error: Error } | null = null;
  private closed = false;
  private waiters: Array<() => void> = [];
  private readonly worker: Worker;
  private readonly exited: Promise<void>;

  constructor(private readonly payload: SealedPayload) {
    exposeGcToWorkers();
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { fd: payload.fd, fileSize: payload.fileSize, dataStart: payload.dataStart, chunks: payload.chunks, key: payload.key, credits: AHEAD_BLOCKS },
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    });
    this.exited = new Promise((resolve) => this.worker.once("exit", () => resolve()));
    this.worker.on("message", (m: BlockMessage | { type: "error"; failure: Failure }) => {
      if (m.type === "block") {
        const number = m.first / BLOCK_CHUNKS;
        // A block the reader has already moved past (it skipped ahead) goes straight back.
        if (number < this.lowest) this.giveBack(m.buf);
        else this.blocks.set(number, Buffer.from(m.buf, 0, m.bytes));
      } else this.fail(this.nextBlock(), errorOf(m.failure, payload.chunks));
      this.wake();
    });
    this.worker.on("error", (err) => this.fail(this.nextBlock(), err));
    this.worker.on("exit", () => {
      if (!this.closed) this.fail(this.nextBlock(), new Error("the decryption thread stopped"));
      this.wake();
    });
  }

  get size(): number {
    return this.payload.size;
  }

  /** Reads exactly into.length plaintext bytes at `position` (see the module comment: forward only). */
  async readPlaintext(into: Buffer, position: number): Promise<void> {
    if (position < 0 || position + into.length > this.size) throw new RangeError(`read of ${into.length} bytes at ${position} beyond the plaintext's ${this.size}`);
    let off = 0;
    while (off < into.length) {
      const at = position + off;
      const number = Math.floor(at / BLOCK_BYTES);
      this.giveBackBelow(number);
      const block = await this.block(number);
      const from = at - number * BLOCK_BYTES;
      off += block.copy(into, off, from, Math.min(block.length, from + into.length - off));
    }
  }

  /** An empty plaintext: its one chunk is authenticated by the thread like any other. */
  async checkEmpty(): Promise<void> {
    if (this.size === 0) await this.block(0);
  }

  /** Ends the thread; settles once it has stopped (and reads no more). */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.wake();
      void this.worker.terminate();
    }
    return this.exited;
  }

  private async block(number: number): Promise<Buffer> {
    if (number < this.lowest) throw new Error(`the encrypted archive was read backwards (block ${number} after ${this.lowest})`);
    for (;;) {
      if (this.closed) throw new Error("the archive was closed while it was read");
      const block = this.blocks.get(number);
      if (block) return block;
      if (this.failure && number >= this.failure.block) throw this.failure.error;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private giveBackBelow(number: number): void {
    for (; this.lowest < number; this.lowest++) {
      const block = this.blocks.get(this.lowest);
      if (!block) continue;
      this.blocks.delete(this.lowest);
      this.giveBack(block.buffer as ArrayBuffer);
    }
  }

  /** Hands a block's memory back to the thread, which may then open one more. */
  private giveBack(buf: ArrayBuffer): void {
    if (!this.closed) this.worker.postMessage({ buf }, [buf]);
  }

  /** The first block not received: where a failure of the thread is reported. */
  private nextBlock(): number {
    let n = this.lowest;
    while (this.blocks.has(n)) n++;
    return n;
  }

  private fail(block: number, error: Error): void {
    this.failure ??= { block, error };
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

function errorOf(failure: Failure, chunks: number): Error {
  switch (failure.kind) {
    case "damaged":
      return damagedChunk(failure.chunk, chunks);
    case "unmarked-last":
      return unmarkedLastChunk();
    case "shrank":
      return shrankWhileRead();
    case "io":
      return Object.assign(new Error(failure.message), failure.code ? { code: failure.code } : {});
  }
}
