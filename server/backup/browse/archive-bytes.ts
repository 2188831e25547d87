/**
 * The one place the browse engine reads an archive's bytes: open it, then stream its
 * (.tar.gz) bytes from any offset. Everything above works on these bytes only, so an
 * encrypted archive (`….tar.gz.age`, authenticated 64 KiB chunks) plugs in here: open
 * decrypts, `size` is the plaintext size and `stream(start)` starts at the chunk holding
 * `start` and drops the bytes before it.
 */
import fs from "node:fs";
import type { Readable } from "node:stream";

export interface ArchiveBytes {
  /** Plaintext (.tar.gz) size in bytes. */
  readonly size: number;
  /** The plaintext bytes from `start` to the end. Destroy it to stop early. */
  stream(start: number): Readable;
  close(): Promise<void>;
}

export async function openArchiveBytes(file: string): Promise<ArchiveBytes> {
  const fh = await fs.promises.open(file, "r");
  const { size } = await fh.stat();
  return {
    size,
    // Positional reads on the shared descriptor: several streams may be open at once.
    stream: (start) => fh.createReadStream({ start, autoClose: false, emitClose: false, highWaterMark: 256 * 1024 }),
    close: () => fh.close(),
  };
}
