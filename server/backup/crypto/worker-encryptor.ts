/**
 * The age payload encryption of a backup, in a worker thread: the archive writer's main thread
 * already hashes every file and builds the tar stream, so sealing 64 KiB chunks and hashing
 * the result (about 1.2 s of CPU per GB together) goes to a thread of its own, which also
 * writes to the output file. Same output, chunk for chunk, as AgeStreamEncryptor (payload.ts).
 *
 * Invariants: data reaches the file in the order it was given; at most MAX_IN_FLIGHT bytes
 * are copied and not yet written (write() waits beyond that); a failed write (ENOSPC keeps its
 * code) fails the next write() or finish(); abort() stops the thread, after which nothing more
 * is written.
 */
import crypto from "node:crypto";
import { Worker } from "node:worker_threads";
import { makeHeader, type AgeTarget } from "./header";
import { CHUNK_SOURCE } from "./chunk";
import { exposeGcToWorkers, WORKER_GARBAGE_SOURCE } from "./worker-garbage";

const MAX_IN_FLIGHT = 8 * 1024 * 1024;

// Plain CommonJS run with eval: the app is bundled by Next and run by tsx, and this needs neither.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const crypto = require("node:crypto");
const fs = require("node:fs");
${WORKER_GARBAGE_SOURCE}
const CHUNK = 65536;
const { fd, key, head } = workerData;
const payloadKey = Buffer.from(key);
const hash = crypto.createHash("sha256");
const pending = Buffer.allocUnsafe(CHUNK);
let pendingBytes = 0;
let counter = 0;
let bytes = 0;
let failed = false;

${CHUNK_SOURCE}
function seal(plain, last, out) {
  const c = crypto.createCipheriv("chacha20-poly1305", payloadKey, nonceOf(counter++, last), { authTagLength: 16 });
  out.push(c.update(plain));
  c.final();
  out.push(c.getAuthTag());
  collectChunkGarbage(plain.length);
}
function writeOut(bufs) {
  for (const b of bufs) { hash.update(b); bytes += b.length; }
  let list = bufs.filter((b) => b.length > 0);
  while (list.length > 0) {
    const n = fs.writevSync(fd, list);
    let left = n, i = 0;
    while (i < list.length && left >= list[i].length) left -= list[i++].length;
    if (i === list.length) return;
    if (n === 0) throw Object.assign(new Error("write made no progress"), { code: "EIO" });
    list = [list[i].subarray(left), ...list.slice(i + 1)];
  }
}
function fail(err) {
  failed = true;
  parentPort.postMessage({ type: "error", message: String(err && err.message || err), code: err && err.code });
}
try { writeOut([Buffer.from(head)]); } catch (err) { fail(err); }
parentPort.on("message", (m) => {
  if (failed) return;
  try {
    if (m.type === "data") {
      const c = Buffer.from(m.buf);
      const out = [];
      let off = 0;
      while (off < c.length) {
        if (pendingBytes === CHUNK) { seal(pending, false, out); pendingBytes = 0; }
        if (pendingBytes === 0 && c.length - off > CHUNK) { seal(c.subarray(off, off + CHUNK), false, out); off += CHUNK; continue; }
        const n = Math.min(CHUNK - pendingBytes, c.length - off);
        c.copy(pending, pendingBytes, off, off + n);
        pendingBytes += n;
        off += n;
      }
      writeOut(out);
      parentPort.postMessage({ type: "ack", bytes: c.length });
    } else if (m.type === "finish") {
      const out = [];
      seal(pending.subarray(0, pendingBytes), true, out);
      writeOut(out);
      parentPort.postMessage({ type: "done", sizeBytes: bytes, sha256: hash.digest("hex") });
    }
  } catch (err) { fail(err); }
});
`;

export class AgeWorkerEncryptor {
  private inFlight = 0;
  private failure: Error | null = null;
  private waiters: Array<() => void> = [];
  private done: ((r: { sizeBytes: number; sha256: string }) => void) | null = null;
  private doneFailed: ((err: Error) => void) | null = null;

  private constructor(private readonly worker: Worker) {
    worker.on("message", (m: { type: string; bytes?: number; sizeBytes?: number; sha256?: string; message?: string; code?: string }) => {
      if (m.type === "ack") this.inFlight -= m.bytes!;
      else if (m.type === "done") this.done?.({ sizeBytes: m.sizeBytes!, sha256: m.sha256! });
      else if (m.type === "error") this.fail(Object.assign(new Error(m.message), m.code ? { code: m.code } : {}));
      this.wake();
    });
    worker.on("error", (err) => this.fail(err));
    worker.on("exit", () => this.fail(new Error("the encryption thread stopped")));
  }

  /** Writes to `fd` (already open): the header at once, then each write()'s data sealed in order. */
  static async create(target: AgeTarget, fd: number): Promise<AgeWorkerEncryptor> {
    const { header, fileKey } = await makeHeader(target);
    const nonce = crypto.randomBytes(16);
    const key = Buffer.from(crypto.hkdfSync("sha256", fileKey, nonce, "payload", 32));
    const head = Buffer.concat([header, nonce]);
    exposeGcToWorkers();
    return new AgeWorkerEncryptor(new Worker(WORKER_SOURCE, { eval: true, workerData: { fd, key, head } }));
  }

  /** Copies `chunks` to the thread (they may be reused once this resolves); waits while too much is unwritten. */
  async write(chunks: Buffer[]): Promise<void> {
    if (this.failure) throw this.failure;
    let total = 0;
    for (const c of chunks) total += c.length;
    if (total === 0) return;
    // Its own ArrayBuffer (never the shared pool), so it can be transferred.
    const copy = Buffer.allocUnsafeSlow(total);
    let at = 0;
    for (const c of chunks) at += c.copy(copy, at);
    this.inFlight += total;
    this.worker.postMessage({ type: "data", buf: copy }, [copy.buffer as ArrayBuffer]);
    while (this.inFlight > MAX_IN_FLIGHT && !this.failure) await new Promise<void>((r) => this.waiters.push(r));
    if (this.failure) throw this.failure;
  }

  /** Seals the last chunk; resolves once everything is written, with the file's size and SHA-256. */
  async finish(): Promise<{ sizeBytes: number; sha256: string }> {
    if (this.failure) throw this.failure;
    const result = new Promise<{ sizeBytes: number; sha256: string }>((resolve, reject) => {
      this.done = resolve;
      this.doneFailed = reject;
    });
    this.worker.postMessage({ type: "finish" });
    try {
      return await result;
    } finally {
      this.done = null;
      await this.abort();
    }
  }

  /** Stops the thread; nothing more is written once this resolves. */
  async abort(): Promise<void> {
    this.failure ??= new Error("the encryption was stopped");
    this.worker.removeAllListeners("exit");
    await this.worker.terminate();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.doneFailed?.(this.failure);
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
