/** SHA-256 on the way: what checks an offsite copy, read from disk or from the bucket, without holding it. */
import crypto from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";

/** Passes bytes through and counts and hashes them. */
export class Sha256Meter extends Transform {
  readonly hash = crypto.createHash("sha256");
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }
}

/** Reads a stream to its end and returns its SHA-256 and length. */
export async function hashStream(source: NodeJS.ReadableStream): Promise<{ sha256: string; bytes: number }> {
  const meter = new Sha256Meter();
  await pipeline(source, meter, async function* (bytes) {
    for await (const _ of bytes) void _;
  });
  return { sha256: meter.hash.digest("hex"), bytes: meter.bytes };
}
