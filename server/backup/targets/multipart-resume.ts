/**
 * Continuing an object's multipart upload that a killed process left open, instead of
 * sending the whole archive again: the parts the server already holds (ListParts) are kept
 * when each has exactly the size this copy cuts (same part size, so the same bytes of the
 * file), and only the missing ones are read from the file and sent, a few at a time. Any
 * doubt (another part size, a part of the wrong length, too many parts) answers null and the
 * caller starts the object over; the read-back after completion checks the result either way.
 *
 * Memory: at most `parallel` parts are held at once, as in lib-storage's own uploads.
 */
import fs from "node:fs";
import { CompleteMultipartUploadCommand, ListPartsCommand, UploadPartCommand, type CompletedPart, type S3Client } from "@aws-sdk/client-s3";

export interface ResumeOptions {
  client: S3Client;
  bucket: string;
  key: string;
  uploadId: string;
  file: string;
  size: number;
  partBytes: number;
  parallel: number;
  signal: AbortSignal;
  /** Bytes the server holds so far (kept parts included). */
  onProgress: (loaded: number) => void;
}

/** Parts the server holds for an upload, by number. */
async function listedParts(opts: ResumeOptions): Promise<Map<number, { size: number; etag: string }>> {
  const parts = new Map<number, { size: number; etag: string }>();
  let marker: string | undefined;
  do {
    const page = await opts.client.send(
      new ListPartsCommand({ Bucket: opts.bucket, Key: opts.key, UploadId: opts.uploadId, PartNumberMarker: marker }),
      { abortSignal: opts.signal },
    );
    for (const p of page.Parts ?? []) if (p.PartNumber && p.ETag && p.Size !== undefined) parts.set(p.PartNumber, { size: p.Size, etag: p.ETag });
    marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
  } while (marker);
  return parts;
}

/** Completes the upload and returns how many parts were kept, or null when it cannot be resumed safely. */
export async function resumeMultipartUpload(opts: ResumeOptions): Promise<number | null> {
  const count = Math.max(1, Math.ceil(opts.size / opts.partBytes));
  if (count > 10_000) return null;
  const expectedSize = (n: number) => (n < count ? opts.partBytes : opts.size - (count - 1) * opts.partBytes);
  const held = await listedParts(opts);
  for (const [n, p] of held) if (n > count || p.size !== expectedSize(n)) return null;
  if (held.size === 0) return null;

  const done = new Map<number, string>([...held].map(([n, p]) => [n, p.etag]));
  let loaded = [...held.keys()].reduce((sum, n) => sum + expectedSize(n), 0);
  opts.onProgress(loaded);
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((n) => !done.has(n));
  const handle = await fs.promises.open(opts.file, "r");
  try {
    const worker = async () => {
      for (let n = missing.shift(); n !== undefined; n = missing.shift()) {
        opts.signal.throwIfAborted();
        const length = expectedSize(n);
        const body = Buffer.allocUnsafe(length);
        const { bytesRead } = await handle.read(body, 0, length, (n - 1) * opts.partBytes);
        if (bytesRead !== length) throw new Error(`the archive is shorter than when its copy started (part ${n})`);
        const sent = await opts.client.send(
          new UploadPartCommand({ Bucket: opts.bucket, Key: opts.key, UploadId: opts.uploadId, PartNumber: n, Body: body, ContentLength: length }),
          { abortSignal: opts.signal },
        );
        done.set(n, sent.ETag!);
        loaded += length;
        opts.onProgress(loaded);
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.parallel, Math.max(1, missing.length)) }, worker));
  } finally {
    await handle.close();
  }
  const parts: CompletedPart[] = [...done].sort(([a], [b]) => a - b).map(([PartNumber, ETag]) => ({ PartNumber, ETag }));
  await opts.client.send(
    new CompleteMultipartUploadCommand({ Bucket: opts.bucket, Key: opts.key, UploadId: opts.uploadId, MultipartUpload: { Parts: parts } }),
    { abortSignal: opts.signal },
  );
  return held.size;
}
