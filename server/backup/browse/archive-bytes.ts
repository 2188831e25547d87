/**
 * The one place the browse engine reads an archive's bytes: open it, then stream its
 * (.tar.gz) bytes from any offset. Everything above works on these bytes only.
 *
 * An encrypted archive (`….tar.gz.age`) is opened with the keys the server has (the kept
 * passphrase, BACKUP_ENCRYPTION_IDENTITY_FILE): `size` is then the plaintext size and
 * `stream(start)` decrypts from the 64 KiB chunk holding `start`, each chunk authenticated, so
 * the seek index's offsets (offsets in the .tar.gz) work unchanged. Without a key the open
 * fails with KEY_REQUIRED, which says what is missing.
 */
import fs from "node:fs";
import { Readable } from "node:stream";
import type { AppConfig } from "../../config";
import { ArchiveError } from "../archive/errors";
import { AGE_CHUNK, AGE_MAGIC, AgePayloadReader, fdRead, isAgeError, isAgeHead, readAgeHeader } from "../crypto";
import { archiveKeys } from "../encryption";
import { keyError } from "../encryption-errors";

const CHUNK = 256 * 1024;

export interface ArchiveBytes {
  /** Plaintext (.tar.gz) size in bytes. */
  readonly size: number;
  /** The plaintext bytes from `start` to the end. Destroy it to stop early. */
  stream(start: number): Readable;
  close(): Promise<void>;
}

type ReadAt = (into: Buffer, position: number) => Promise<number>;

export async function openArchiveBytes(config: AppConfig, file: string): Promise<ArchiveBytes> {
  const fh = await fs.promises.open(file, "r");
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(AGE_MAGIC.length);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    if (!isAgeHead(head.subarray(0, bytesRead))) {
      return positional(fh, size, async (into, position) => (await fh.read(into, 0, into.length, position)).bytesRead);
    }
    const reader = await ageCall(file, async () => AgePayloadReader.open(fdRead(fh.fd), size, await archiveKeys(config)));
    return positional(fh, reader.size, async (into, position) => {
      await ageCall(file, () => reader.readPlaintext(into, position));
      return into.length;
    });
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/** Per 64 KiB chunk of an age payload: its Poly1305 tag; and the payload's leading nonce. */
const AGE_TAG = 16;
const AGE_NONCE = 16;

/**
 * The size of an archive's .tar.gz bytes, without a key: the file's size, or for an encrypted
 * one what its age payload holds (the seek index records it, to tell it belongs to this file).
 */
export async function archivePlaintextSize(file: string): Promise<number> {
  const fh = await fs.promises.open(file, "r");
  try {
    const { size } = await fh.stat();
    const header = await readAgeHeader(fdRead(fh.fd), size).catch(() => null);
    if (!header) return size;
    const sealed = size - header.length - AGE_NONCE;
    const chunks = Math.max(1, Math.ceil(sealed / (AGE_CHUNK + AGE_TAG)));
    return sealed - chunks * AGE_TAG;
  } finally {
    await fh.close();
  }
}

// Positional reads on the one handle, so several streams may be open at once and destroying
// one never closes it (fs read streams close even a borrowed descriptor).
function positional(fh: fs.promises.FileHandle, size: number, readAt: ReadAt): ArchiveBytes {
  let closed = false;
  return {
    size,
    stream: (start) =>
      Readable.from(
        (async function* () {
          for (let pos = start; pos < size && !closed; ) {
            const buf = Buffer.allocUnsafe(Math.min(CHUNK, size - pos));
            const n = await readAt(buf, pos);
            if (n === 0) return;
            pos += n;
            yield buf.subarray(0, n);
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

/** The age layer's errors in the browse engine's terms: a missing or wrong key says so, damage is ARCHIVE_INVALID. */
async function ageCall<T>(file: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!isAgeError(err)) throw err;
    if (err.code === "KEY_REQUIRED" || err.code === "WRONG_PASSPHRASE" || err.code === "WRONG_IDENTITY") throw keyError(err);
    throw new ArchiveError("ARCHIVE_INVALID", `${file.split("/").pop()} cannot be read: ${err.message}`, { path: file, cause: err });
  }
}
