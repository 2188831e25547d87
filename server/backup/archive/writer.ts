/**
 * Writes a backup archive: a standard .tar.gz (GNU tar lists and extracts it) laid out as
 *
 *   backup/                      directory entries for backup/ and each part
 *   backup/database/baluhost.db  the SQLite snapshot, when included
 *   backup/files/...             the storage tree
 *   backup/config/...            the config tree
 *   backup/manifest.json         always the last entry
 *
 * Every byte is read once: each file is hashed (SHA-256) as it is read and the whole output is
 * hashed as it is written. Tar headers are encoded here (tar-header.ts), bodies are read in
 * large pieces straight into 1 MiB blocks, and the blocks become independent gzip members
 * compressed concurrently (gzip-blocks.ts). Small files are read several at a time ahead of the
 * writer so that thousands of them do not cost thousands of sequential round trips.
 *
 * Guarantees:
 * - A header always matches its body (see source-files.ts for how changing files are handled).
 * - Memory does not grow with the data nor with the number of entries: a bounded number of
 *   blocks, a bounded read-ahead, and the manifest's entries spooled to a temporary file
 *   (beside the output) until the manifest is written last.
 * - On any failure or abort nothing more is written after the promise settles, the output is
 *   closed, and the partial file is left for the caller to delete. Output errors keep Node's
 *   code (ENOSPC stays ENOSPC).
 */
import { linkTargetProblem } from "./link-policy";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { abortError, errnoCode, sourceChangedError, throwIfAborted } from "./errors";
import { AgeWorkerEncryptor } from "../crypto/worker-encryptor";
import { GzipBlockWriter } from "./gzip-blocks";
import { LineSpool } from "./line-spool";
import { SeekIndexWriter } from "./seek-index";
import { addToTotals, emptyTotals, MANIFEST_ARCHIVE_PATH, MANIFEST_TAIL, manifestEntryText, manifestHeadText } from "./manifest";
import { absoluteJoiner, walkTreeBatches } from "./scan";
import { IN_MEMORY_MAX_BYTES, ReadArena, readSmallFile, StreamedFile, type SmallRead } from "./source-files";
import { encodeTarHeader, endOfArchive, padded, TAR_BLOCK } from "./tar-header";
import { writevAll } from "./write-all";
import {
  SKIPPED_LISTED,
  type ArchiveProgress,
  type BackupManifest,
  type ManifestFileEntry,
  type PlannedEntry,
  type ScannedEntry,
  type SkippedEntry,
  type WriteArchiveOptions,
  type WrittenArchive,
} from "./types";

export const DATABASE_ARCHIVE_PATH = "database/baluhost.db";

/** Read-ahead of small files: at most this many files / bytes read but not yet written. */
const READ_AHEAD_FILES = 64;
const READ_AHEAD_BYTES = 2 * IN_MEMORY_MAX_BYTES + 2;
/** Entries looked at ahead of the writer when starting reads (dirs and links cost nothing). */
const LOOKAHEAD_ENTRIES = 512;
const PROGRESS_INTERVAL_MS = 100;
const ZEROS = Buffer.alloc(TAR_BLOCK);

/** Tuning knobs for the benchmark and tests; the defaults are what the app uses. */
export interface ArchiveTuning {
  level?: number;
  blockSize?: number;
  concurrency?: number;
  /** Minimum time between progress calls (default 100 ms; tests use 0 to act between reads). */
  progressIntervalMs?: number;
}

export async function writeBackupArchive(opts: WriteArchiveOptions, tuning: ArchiveTuning = {}): Promise<WrittenArchive> {
  validateOptions(opts);
  throwIfAborted(opts.signal);
  const fh = await fs.promises.open(opts.outputPath, "wx", 0o600);
  let result: WrittenArchive;
  try {
    result = await writeArchiveToHandle(fh, opts, tuning);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
  await fh.close();
  return result;
}

/**
 * The archive written to an already open file (writeBackupArchive opens it with "wx"). Exposed
 * for tests that need an output which fails in a specific way (e.g. /dev/full for ENOSPC).
 */
export async function writeArchiveToHandle(
  fh: fs.promises.FileHandle,
  opts: WriteArchiveOptions,
  tuning: ArchiveTuning = {},
): Promise<WrittenArchive> {
  const toFile = (chunks: Buffer[]) => writevAll(async (bufs) => (await fh.writev(bufs)).bytesWritten, chunks);
  // Encrypted: the gzip members go to the age encryptor's thread, which seals, hashes and
  // writes them to the file (the main thread keeps the tar stream and the files' hashes).
  const encryptor = opts.encryptTo ? await AgeWorkerEncryptor.create(opts.encryptTo, fh.fd) : null;
  const sink = new GzipBlockWriter({
    write: encryptor ? (chunks) => encryptor.write(chunks) : toFile,
    level: tuning.level,
    blockSize: tuning.blockSize,
    concurrency: tuning.concurrency,
    hashOutput: !encryptor,
  });
  const builder = new ArchiveBuilder(opts, sink, tuning.progressIntervalMs ?? PROGRESS_INTERVAL_MS);
  try {
    const written = await builder.run();
    return encryptor ? { ...written, ...(await encryptor.finish()) } : written;
  } catch (err) {
    await builder.stop();
    await sink.abort();
    await encryptor?.abort();
    throw opts.signal?.aborted ? abortError(opts.signal) : err;
  } finally {
    await builder.cleanUp();
  }
}

function validateOptions(opts: WriteArchiveOptions): void {
  const names = opts.trees.map((t) => t.name);
  if (new Set(names).size !== names.length) throw new TypeError(`writeBackupArchive: duplicate tree in ${names.join(", ")}`);
  for (const n of names) {
    if (n !== "files" && n !== "config") throw new TypeError(`writeBackupArchive: unknown tree "${String(n)}"`);
  }
  const inc = opts.meta.includes;
  const mismatch: string[] = [];
  if (inc.database !== Boolean(opts.database)) mismatch.push("database");
  if (inc.files !== names.includes("files")) mismatch.push("files");
  if (inc.config !== names.includes("config")) mismatch.push("config");
  if (mismatch.length > 0) {
    throw new TypeError(`writeBackupArchive: meta.includes disagrees with the options for ${mismatch.join(", ")}`);
  }
}

/** One thing to put in the archive, in archive order. */
type Item =
  | { kind: "dir"; archivePath: string; mode: number; mtimeMs: number; listed: boolean }
  | { kind: "symlink"; archivePath: string; abs: string; entry: ScannedEntry }
  | { kind: "file"; archivePath: string; abs: string; entry: ScannedEntry; isDatabase: boolean }
  | { kind: "unchanged"; archivePath: string; entry: ScannedEntry; sha256: string };

interface Pending {
  item: Item;
  read?: Promise<SmallRead>;
}

/** Suffix of the temporary file the manifest's entries are spooled to, beside the output (a crash leaves a "….partial" for the caller's sweep). */
const MANIFEST_SPOOL_SUFFIX = ".manifest.partial";

class ArchiveBuilder {
  private readonly signal?: AbortSignal;
  private readonly totals = emptyTotals();
  private spool: LineSpool | null = null;
  private seek: SeekIndexWriter | null = null;
  /** Tar offset of the header of the file being emitted (for the seek index). */
  private headerAt = -1;
  private readonly skipped: SkippedEntry[] = [];
  private skippedCount = 0;
  private readonly ahead: Pending[] = [];
  private nextToRead = 0; // index in `ahead` of the first item whose read has not been considered
  private planDone = false;
  private batches: AsyncIterator<Item[]> | null = null;
  private readonly arena = new ReadArena(READ_AHEAD_BYTES);
  private readonly progress: ArchiveProgress = { filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0 };
  private lastProgressAt = -Infinity;
  /** Headers are encoded here and copied into the stream: no allocation per entry. */
  private readonly headerScratch = Buffer.alloc(TAR_BLOCK);

  constructor(
    private readonly opts: WriteArchiveOptions,
    private readonly sink: GzipBlockWriter,
    private readonly progressIntervalMs: number,
  ) {
    this.signal = opts.signal;
    if (opts.expected) {
      this.progress.filesTotal = opts.expected.files;
      this.progress.bytesTotal = opts.expected.bytes;
    }
  }

  async run(): Promise<WrittenArchive> {
    this.spool = await LineSpool.create(this.opts.outputPath + MANIFEST_SPOOL_SUFFIX);
    if (this.opts.seekIndexPath) this.seek = await SeekIndexWriter.create(this.opts.seekIndexPath);
    const batches = await this.plan();
    this.batches = batches;
    this.reportProgress(true);

    for (;;) {
      await this.fillAhead(batches);
      const next = this.ahead.shift();
      if (!next) break;
      if (this.nextToRead > 0) this.nextToRead--;
      throwIfAborted(this.signal);
      await this.emit(next);
      this.reportProgress(false);
    }

    const manifest = { ...this.opts.meta, totals: { ...this.totals } };
    await this.pushManifest(manifest);
    await this.push(endOfArchive());
    const { sizeBytes, sha256 } = await this.sink.finish();
    const seek = this.seek;
    this.seek = null;
    await seek?.finish(this.sink.memberStarts, this.sink.uncompressedBlockSize, sizeBytes);
    this.reportProgress(true);
    return { sizeBytes, sha256, manifest, skipped: this.skipped, skippedCount: this.skippedCount };
  }

  /** Waits for reads already started, so no file stays open after a failure. */
  async stop(): Promise<void> {
    await Promise.allSettled(this.ahead.map((p) => p.read));
  }

  /**
   * Closes the entry sources (after a failure they are paused mid-way: a spool's read handle,
   * or a walk's worker thread) and removes the manifest spool. After success or failure.
   */
  async cleanUp(): Promise<void> {
    await this.batches?.return?.(undefined).catch(() => undefined);
    await this.spool?.remove();
    await this.seek?.abort(); // still open: the archive failed
  }

  /**
   * Returns the items in archive order, in batches made as the writer gets to them: only the
   * look-ahead window and one batch of each source exist at any time.
   */
  private async plan(): Promise<AsyncIterator<Item[]>> {
    const { database, trees, meta } = this.opts;
    const createdMs = Date.parse(meta.created_at) || Date.now();
    const output = path.resolve(this.opts.outputPath);
    const counting = !this.opts.expected;
    const progress = this.progress;

    let snapshot: ScannedEntry | null = null;
    if (database) {
      const st = await fs.promises.stat(database.snapshotPath);
      if (!st.isFile()) throw new Error(`database snapshot ${database.snapshotPath} is not a file`);
      snapshot = { path: "baluhost.db", type: "file", size: st.size, mtimeMs: st.mtimeMs, mode: st.mode & 0o7777 };
      progress.filesTotal++;
      progress.bytesTotal += st.size;
    }
    const roots = await Promise.all(trees.map((t) => fs.promises.stat(t.root).catch(() => null)));
    const signal = this.signal;
    const skip = (s: SkippedEntry) => this.skip(s.path, s.reason);

    async function* items(): AsyncGenerator<Item[]> {
      const first: Item[] = [{ kind: "dir", archivePath: "", mode: 0o755, mtimeMs: createdMs, listed: false }];
      if (database && snapshot) {
        first.push({ kind: "dir", archivePath: "database", mode: 0o755, mtimeMs: createdMs, listed: false });
        first.push({ kind: "file", archivePath: DATABASE_ARCHIVE_PATH, abs: database.snapshotPath, entry: snapshot, isDatabase: true });
      }
      yield first;
      for (const [t, tree] of trees.entries()) {
        throwIfAborted(signal);
        const rootStat = roots[t];
        yield [{
          kind: "dir",
          archivePath: tree.name,
          mode: rootStat ? rootStat.mode & 0o7777 : 0o755,
          mtimeMs: rootStat ? rootStat.mtimeMs : createdMs,
          listed: false,
        }];
        const under = absoluteJoiner(tree.root);
        const source: AsyncIterable<PlannedEntry[]> | PlannedEntry[][] = Array.isArray(tree.entries)
          ? [tree.entries]
          : tree.entries ?? walkTreeBatches(tree.root, { signal, onSkipped: (s) => skip({ ...s, path: `${tree.name}/${s.path}` }) });
        for await (const batch of source) {
          const out: Item[] = [];
          for (const entry of batch) {
            if (!isSafeRelativePath(entry.path)) {
              throw new TypeError(`writeBackupArchive: entry path ${JSON.stringify(entry.path)} of tree "${tree.name}" is not a plain relative path`);
            }
            const archivePath = `${tree.name}/${entry.path}`;
            if (entry.type === "dir") {
              out.push({ kind: "dir", archivePath, mode: entry.mode, mtimeMs: entry.mtimeMs, listed: true });
              continue;
            }
            const abs = under(entry.path);
            // A backup folder inside a tree must not swallow the archive being written.
            if (abs === output || abs.startsWith(output + ".")) continue;
            if (entry.type === "symlink") {
              out.push({ kind: "symlink", archivePath, abs, entry });
            } else if (entry.unchangedSha256 !== undefined) {
              if (!/^[0-9a-f]{64}$/.test(entry.unchangedSha256)) {
                throw new TypeError(`writeBackupArchive: invalid sha256 for the unchanged file ${entry.path}`);
              }
              out.push({ kind: "unchanged", archivePath, entry, sha256: entry.unchangedSha256 });
            } else {
              if (counting) {
                progress.filesTotal++;
                progress.bytesTotal += entry.size;
              }
              out.push({ kind: "file", archivePath, abs, entry, isDatabase: false });
            }
          }
          yield out;
        }
      }
    }
    return items();
  }

  /** Keeps the look-ahead window full and starts reading the small files in it. */
  private async fillAhead(batches: AsyncIterator<Item[]>): Promise<void> {
    while (!this.planDone && this.ahead.length < LOOKAHEAD_ENTRIES) {
      const r = await batches.next();
      if (r.done) this.planDone = true;
      else for (const item of r.value) this.ahead.push({ item });
    }
    while (this.nextToRead < this.ahead.length) {
      const p = this.ahead[this.nextToRead];
      if (p.item.kind === "file" && p.item.entry.size <= IN_MEMORY_MAX_BYTES) {
        if (this.arena.reservations >= READ_AHEAD_FILES) break;
        const into = this.arena.reserve(p.item.entry.size + 1);
        if (!into) break;
        p.read = readSmallFile(p.item.abs, p.item.entry, into);
      }
      this.nextToRead++;
    }
  }

  private async emit(p: Pending): Promise<void> {
    const item = p.item;
    switch (item.kind) {
      case "dir":
        await this.pushEntry({ path: tarPath(item.archivePath), type: "dir", size: 0, mode: item.mode, mtimeMs: item.mtimeMs });
        if (item.listed) {
          await this.listEntry({ path: item.archivePath, type: "dir", size: 0, mtime: item.mtimeMs, mode: item.mode, in_archive: true });
        }
        return;
      case "symlink":
        return this.emitSymlink(item);
      case "unchanged":
        await this.listEntry({
          path: item.archivePath,
          type: "file",
          size: item.entry.size,
          mtime: item.entry.mtimeMs,
          mode: item.entry.mode,
          sha256: item.sha256,
          in_archive: false,
        });
        return;
      case "file":
        if (p.read) {
          try {
            return await this.emitSmallFile(item, await p.read);
          } finally {
            this.arena.releaseOldest();
          }
        }
        return this.emitStreamedFile(item);
    }
  }

  private async emitSymlink(item: Extract<Item, { kind: "symlink" }>): Promise<void> {
    let target = item.entry.linkTarget;
    if (target === undefined) {
      try {
        target = await fs.promises.readlink(item.abs);
      } catch (err) {
        if (errnoCode(err) === "ENOENT" || errnoCode(err) === "EINVAL") return this.skip(item.archivePath, "vanished");
        throw err;
      }
    }
    // A link a restore would refuse (absolute, or leading out of its tree) is left out and
    // reported, so that every archive written here can be restored.
    const folderDepth = item.archivePath.split("/").length - 2; // minus the tree name and the link itself
    if (linkTargetProblem(target, folderDepth) !== null) return this.skip(item.archivePath, "unsafe-link");
    const { mode, mtimeMs } = item.entry;
    await this.pushEntry({ path: tarPath(item.archivePath), type: "symlink", size: 0, mode, mtimeMs, linkTarget: target });
    await this.listEntry({
      path: item.archivePath,
      type: "symlink",
      size: item.entry.size,
      mtime: mtimeMs,
      mode,
      link_target: target,
      in_archive: true,
    });
  }

  private async emitSmallFile(item: Extract<Item, { kind: "file" }>, r: SmallRead): Promise<void> {
    switch (r.kind) {
      case "vanished":
        return this.vanished(item);
      case "too-big": // grew past the in-memory limit since the scan
        return this.emitStreamedFile(item);
      case "changed":
        throw sourceChangedError(item.abs);
      case "error":
        throw r.error;
      case "ok": {
        const sha256 = crypto.createHash("sha256").update(r.data).digest("hex");
        this.headerAt = this.sink.position;
        await this.pushEntry({ path: tarPath(item.archivePath), type: "file", size: r.size, mode: r.mode, mtimeMs: r.mtimeMs }, r.data);
        await this.fileDone(item, { size: r.size, mtimeMs: r.mtimeMs, mode: r.mode }, sha256);
        this.progress.bytesDone += r.size;
        return;
      }
    }
  }

  private async emitStreamedFile(item: Extract<Item, { kind: "file" }>): Promise<void> {
    const file = await StreamedFile.open(item.abs);
    if (!file) return this.vanished(item);
    try {
      const { size, mtimeMs, mode } = file;
      this.headerAt = this.sink.position;
      await this.push(encodeTarHeader({ path: tarPath(item.archivePath), type: "file", size, mode, mtimeMs }, this.headerScratch));
      const hash = crypto.createHash("sha256");
      let pos = 0;
      while (pos < size) {
        throwIfAborted(this.signal);
        const space = await this.sink.space();
        const want = Math.min(space.length, size - pos);
        const n = await file.read(space.buf, space.start, want, pos);
        if (n === 0) throw sourceChangedError(item.abs); // shrank: the header promised more
        hash.update(space.buf.subarray(space.start, space.start + n));
        pos += n;
        this.progress.bytesDone += n;
        const wait = this.sink.commit(n);
        if (wait) await wait;
        this.reportProgress(false);
      }
      if (!(await file.unchangedSinceOpen())) throw sourceChangedError(item.abs);
      await this.push(ZEROS.subarray(0, padded(size) - size));
      await this.fileDone(item, { size, mtimeMs, mode }, hash.digest("hex"));
    } finally {
      await file.close().catch(() => undefined);
    }
  }

  private async fileDone(item: Extract<Item, { kind: "file" }>, st: { size: number; mtimeMs: number; mode: number }, sha256: string): Promise<void> {
    await this.listEntry({ path: item.archivePath, type: "file", size: st.size, mtime: st.mtimeMs, mode: st.mode, sha256, in_archive: true });
    this.progress.filesDone++;
  }

  private vanished(item: Extract<Item, { kind: "file" }>): void {
    if (item.isDatabase) throw new Error(`database snapshot ${item.abs} disappeared while the backup was written`);
    this.progress.filesTotal--;
    this.progress.bytesTotal -= item.entry.size;
    this.skip(item.archivePath, "vanished");
  }

  /** A manifest entry, counted and spooled in archive order. */
  private listEntry(e: ManifestFileEntry): Promise<void> | undefined {
    addToTotals(this.totals, e);
    const seeking = this.seek?.append(e.type === "file" && e.in_archive ? this.headerAt : -1);
    const spooling = this.spool!.append(manifestEntryText(e, this.spool!.count === 0));
    if (!seeking) return spooling;
    return Promise.all([seeking, spooling]).then(() => undefined);
  }

  private skip(archivePath: string, reason: SkippedEntry["reason"]): void {
    this.skippedCount++;
    if (this.skipped.length < SKIPPED_LISTED) this.skipped.push({ path: archivePath, reason });
  }

  /**
   * The manifest entry: the head with the totals, the spooled entry lines, the tail (the text
   * manifestText would make). Its size is known before its header is written because the spool
   * is complete. The same bytes go to the manifest copy when one is asked for.
   */
  private async pushManifest(manifest: Omit<BackupManifest, "entries">): Promise<void> {
    const spool = this.spool!;
    await spool.finish();
    const count = spool.count;
    // head + "\n" + the spooled lines (each a manifestEntryText piece) + tail: exactly manifestText.
    const head = Buffer.from(manifestHeadText(manifest) + (count === 0 ? "" : "\n"), "utf8");
    const tail = Buffer.from(MANIFEST_TAIL, "utf8");
    const size = head.length + spool.size + tail.length;
    const mtimeMs = Date.parse(this.opts.meta.created_at) || Date.now();
    const copy = this.opts.manifestCopyPath ? await fs.promises.open(this.opts.manifestCopyPath, "wx", 0o600) : null;
    let written = 0;
    const out = async (data: Buffer) => {
      written += data.length;
      await this.push(data);
      if (copy) await writevAll(async (bufs) => (await copy.writev(bufs)).bytesWritten, [data]);
    };
    try {
      await this.push(encodeTarHeader({ path: MANIFEST_ARCHIVE_PATH, type: "file", size, mode: 0o644, mtimeMs }, this.headerScratch));
      await out(head);
      for await (const chunk of spool.chunks()) await out(chunk);
      await out(tail);
      if (copy) await copy.sync();
    } finally {
      await copy?.close();
    }
    if (written !== size) throw new Error(`internal error: manifest measured ${size} bytes but ${written} were written`);
    await this.push(ZEROS.subarray(0, padded(size) - size));
  }

  /** Header, body and padding of one entry whose body is in memory. */
  private async pushEntry(h: Parameters<typeof encodeTarHeader>[0], body?: Buffer): Promise<void> {
    await this.push(encodeTarHeader(h, this.headerScratch));
    if (body && body.length > 0) {
      await this.push(body);
      await this.push(ZEROS.subarray(0, padded(body.length) - body.length));
    }
  }

  private push(data: Buffer): Promise<void> | undefined {
    if (data.length === 0) return undefined;
    return this.sink.push(data);
  }

  private reportProgress(force: boolean): void {
    const cb = this.opts.onProgress;
    if (!cb) return;
    const now = performance.now();
    if (!force && now - this.lastProgressAt < this.progressIntervalMs) return;
    this.lastProgressAt = now;
    const p = this.progress;
    cb({
      filesDone: p.filesDone,
      filesTotal: Math.max(p.filesTotal, p.filesDone),
      bytesDone: p.bytesDone,
      bytesTotal: Math.max(p.bytesTotal, p.bytesDone),
    });
  }
}

/**
 * Entries come from scanTree or from the caller: a path that is absolute, has "." or ".."
 * segments, empty segments or NUL would put something outside backup/<tree>/ on restore.
 */
function isSafeRelativePath(p: string): boolean {
  if (p === "" || p.includes("\0")) return false;
  for (const seg of p.split("/")) {
    if (seg === "" || seg === "." || seg === "..") return false;
  }
  return true;
}

/** "files/a" → "backup/files/a"; "" → "backup". */
function tarPath(archivePath: string): string {
  return archivePath === "" ? "backup" : `backup/${archivePath}`;
}
