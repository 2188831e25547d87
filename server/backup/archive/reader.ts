/**
 * Small streaming readers for finished archives: the manifest (needed by incremental backups
 * to compare with their parent) and a plain listing (for tests and diagnostics). Both use npm
 * tar's parser, which is fast at listing. They do not extract anything; the hardened
 * extractor and verifier for restores live elsewhere.
 *
 * The manifest is the last entry, so reading it means decompressing the whole archive
 * (stored members inflate at memory speed; ~1-2 s per GB). An encrypted archive (age) is read
 * through its decryption, which needs `keys`; a missing or wrong key throws the AgeError.
 */
import fs from "node:fs";
import { Readable } from "node:stream";
import { Parser, type ReadEntry } from "tar";
import { AgePayloadReader, fdRead, isAgeError, isAgeHead, plaintextPieces, type AgeKeys } from "../crypto";
import { ArchiveError } from "./errors";
import { MANIFEST_ARCHIVE_PATH, MAX_MANIFEST_BYTES, parseManifest } from "./manifest";
import type { ArchiveListing, BackupManifest } from "./types";

/** Reads and validates backup/manifest.json; throws ArchiveError("ARCHIVE_INVALID") when absent or invalid. */
export async function readManifestFromArchive(archivePath: string, keys?: AgeKeys): Promise<BackupManifest> {
  const chunks: Buffer[] = [];
  let found = 0;
  let tooBig = false;
  await parseArchive(archivePath, keys, (entry) => {
    if (entry.path !== MANIFEST_ARCHIVE_PATH || entry.type !== "File") {
      entry.resume();
      return;
    }
    found++;
    if ((entry.size ?? 0) > MAX_MANIFEST_BYTES) tooBig = true;
    if (found > 1 || tooBig) {
      entry.resume();
      return;
    }
    entry.on("data", (c: Buffer) => chunks.push(c));
  });
  const name = archivePath;
  if (found === 0) throw new ArchiveError("ARCHIVE_INVALID", `${name} is not a valid backup: it has no ${MANIFEST_ARCHIVE_PATH}`, { path: name });
  if (found > 1) throw new ArchiveError("ARCHIVE_INVALID", `${name} is not a valid backup: it has more than one manifest`, { path: name });
  if (tooBig) throw new ArchiveError("ARCHIVE_INVALID", `${name} is not a valid backup: its manifest is too large`, { path: name });
  return parseManifest(Buffer.concat(chunks).toString("utf8"), name);
}

/** Every entry of an archive, in order. Memory grows with the number of entries. */
export async function listArchive(archivePath: string, keys?: AgeKeys): Promise<ArchiveListing[]> {
  const out: ArchiveListing[] = [];
  await parseArchive(archivePath, keys, (entry) => {
    out.push({
      path: entry.path,
      type: entry.type === "File" || entry.type === "OldFile" ? "file"
        : entry.type === "Directory" ? "dir"
        : entry.type === "SymbolicLink" ? "symlink"
        : "other",
      size: entry.size ?? 0,
      mtimeMs: entry.mtime ? entry.mtime.getTime() : 0,
      mode: (entry.mode ?? 0) & 0o7777,
      ...(entry.type === "SymbolicLink" ? { linkTarget: entry.linkpath ?? "" } : {}),
    });
    entry.resume();
  });
  return out;
}

/** The bytes of the .tar.gz: the file itself, or the plaintext of an encrypted (age) one. */
async function openCompressed(archivePath: string, keys: AgeKeys | undefined): Promise<Readable> {
  const fh = await fs.promises.open(archivePath, "r");
  try {
    const head = Buffer.alloc(64);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    if (!isAgeHead(head.subarray(0, bytesRead))) {
      await fh.close();
      return fs.createReadStream(archivePath, { highWaterMark: 1 << 20 });
    }
    const reader = await AgePayloadReader.open(fdRead(fh.fd), (await fh.stat()).size, keys ?? {});
    // Read once, front to back: the chunks are opened ahead on a thread of their own.
    const ahead = reader.readAhead(fh.fd);
    const stream = Readable.from(plaintextPieces(ahead), { objectMode: false });
    stream.on("close", () => void ahead.close().finally(() => fh.close().catch(() => undefined)));
    return stream;
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}

/** Streams the file through npm tar's parser in strict mode; any damage rejects as ARCHIVE_INVALID. */
async function parseArchive(archivePath: string, keys: AgeKeys | undefined, onEntry: (entry: ReadEntry) => void): Promise<void> {
  let input: Readable;
  try {
    input = await openCompressed(archivePath, keys);
  } catch (err) {
    if (isAgeError(err) && (err.code === "KEY_REQUIRED" || err.code === "WRONG_PASSPHRASE" || err.code === "WRONG_IDENTITY")) throw err;
    throw invalid(archivePath, err);
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      input.destroy();
      const code = (err as { code?: string } | null)?.code;
      if (code === "ENOENT" || code === "EACCES" || code === "EISDIR") reject(err);
      else reject(invalid(archivePath, err));
    };
    const parser = new Parser({ strict: true, onReadEntry: onEntry });
    parser.on("error", fail);
    parser.on("warn", (_code: string, message: string | Error) => fail(message instanceof Error ? message : new Error(message)));
    parser.on("end", () => {
      if (settled) return;
      settled = true;
      resolve();
    });
    input.on("error", fail);
    input.pipe(parser as unknown as NodeJS.WritableStream);
  });
}

function invalid(archivePath: string, err: unknown): unknown {
  const code = (err as { code?: string } | null)?.code;
  if (code === "ENOENT" || code === "EACCES" || code === "EISDIR") return err;
  return new ArchiveError("ARCHIVE_INVALID", `${archivePath} is not a valid backup: it cannot be read as a .tar.gz (${
    err instanceof Error ? err.message : String(err)
  })`, { path: archivePath, cause: err });
}
