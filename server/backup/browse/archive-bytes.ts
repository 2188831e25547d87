/**
 * The one place the browse engine reads an archive's bytes: open it, then stream its
 * (.tar.gz) bytes from any offset. Everything above works on these bytes only, so an
 * encrypted archive (`….tar.gz.age`, authenticated 64 KiB chunks) plugs in here: open
 * decrypts, `size` is the plaintext size and `stream(start)` starts at the chunk holding
 * `start` and drops the bytes before it.
 */
import fs from "node:fs";
import { Readable } from "node:stream";

const CHUNK = 256 * 1024;

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
  let closed = false;
  return {
    size,
    // Positional reads on the one handle, so several streams may be open at once and
    // destroying one never closes it (fs read streams close even a borrowed descriptor).
    stream: (start) =>
      Readable.from(
        (async function* () {
          for (let pos = start; pos < size && !closed; ) {
            const buf = Buffer.allocUnsafe(Math.min(CHUNK, size - pos));
            const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
            if (bytesRead === 0) return;
            pos += bytesRead;
            yield buf.subarray(0, bytesRead);
          }
        })(),
        { objectMode: false },
      ),
    close: async () => {
      if (closed) return;
      closed = true;
      await fh.close();
    },
  };
}
