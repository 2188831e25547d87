/**
 * The SHA-256 of a file that is being written, computed on a thread of its own by reading back
 * what has been written (from the page cache), in order.
 *
 * Why: a restore from a file copies the archive into the backup folder while it reads it, and
 * the catalog keeps the copy's SHA-256. Hashing 1.1 GB on the reading thread took about 0.7 s of
 * the thread every other step of the restore waits on; here it runs beside it. Hashing what
 * was written, rather than the buffers handed to write(), is also the stronger check: the
 * digest is of the bytes the catalog will hold.
 *
 * Writes may complete out of order (several are in flight on the thread pool); ranges are
 * handed to the thread only once everything before them is written, so it reads each byte once.
 */
import { Worker } from "node:worker_threads";

// Plain CommonJS so it runs as an eval'd worker whatever bundles this module (Next.js, tsx).
const HASH_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const fs = require("node:fs");
const crypto = require("node:crypto");
const { fd } = workerData;
const hash = crypto.createHash("sha256");
const buf = Buffer.allocUnsafeSlow(1024 * 1024);
let hashed = 0;
let failure = null;
parentPort.on("message", (msg) => {
  if (msg.until !== undefined && failure === null) {
    try {
      while (hashed < msg.until) {
        const n = fs.readSync(fd, buf, 0, Math.min(buf.length, msg.until - hashed), hashed);
        if (n === 0) throw new Error("the copy ends at byte " + hashed + ", before " + msg.until);
        hash.update(buf.subarray(0, n));
        hashed += n;
      }
    } catch (err) {
      failure = err.message;
    }
  }
  if (msg.finish) parentPort.postMessage(failure === null ? { bytes: hashed, sha256: hash.digest("hex") } : { error: failure });
});
`;

export class CopyHasher {
  private readonly worker: Worker;
  /** End of the written prefix, and the ends of writes completed beyond it, by start. */
  private written = 0;
  private readonly doneAhead = new Map<number, number>();

  /** `fd` must be open for reading and writing until finish() has returned. */
  constructor(fd: number) {
    this.worker = new Worker(HASH_SOURCE, { eval: true, workerData: { fd }, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    this.worker.unref();
  }

  /** The bytes [at, end) are written. */
  markWritten(at: number, end: number): void {
    this.doneAhead.set(at, end);
    let next = this.doneAhead.get(this.written);
    if (next === undefined) return;
    while (next !== undefined) {
      this.doneAhead.delete(this.written);
      this.written = next;
      next = this.doneAhead.get(this.written);
    }
    this.worker.postMessage({ until: this.written });
  }

  /** Once every write is done: the size and SHA-256 of the written prefix; ends the thread. */
  async finish(): Promise<{ bytes: number; sha256: string }> {
    const reply = new Promise<{ bytes: number; sha256: string; error?: string }>((resolve, reject) => {
      this.worker.once("message", resolve);
      this.worker.once("error", reject);
      this.worker.once("exit", (code) => reject(new Error(`hashing the copy stopped unexpectedly (thread exit code ${code})`)));
    });
    this.worker.postMessage({ finish: true });
    try {
      const r = await reply;
      if (r.error) throw new Error(`the copy of the archive cannot be read back: ${r.error}`);
      if (this.doneAhead.size > 0) throw new Error("the copy of the archive has a gap: a write before the end did not complete");
      return { bytes: r.bytes, sha256: r.sha256 };
    } finally {
      await this.worker.terminate();
    }
  }

  /** Ends the thread without a result (after a failure); settles once it has stopped reading. */
  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
