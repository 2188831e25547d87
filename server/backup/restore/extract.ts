/**
 * The hardened archive reader used by restore, verify and upload. Every archive is hostile
 * until it has been read to the end and matched against its manifest: it may have been
 * uploaded, copied from another machine or tampered with.
 *
 * One pass, streaming: the .tar.gz is decompressed (extract-source.ts: our archives' members in
 * parallel on the thread pool, others as one stream) and framed (extract-tar.ts), each
 * entry's name, type and place in the layout is checked before a byte of it is written
 * (extract-paths.ts), collisions are caught as entries arrive (extract-manifest.ts), bodies are
 * hashed once as they stream into the destination folders (extract-writer.ts), and the
 * manifest, our archives' last entry, is compared with what was stored as it streams past.
 * Anything wrong rejects with ArchiveInvalidError naming the entry and the problem.
 *
 * Guarantees:
 * - Nothing is ever written outside the destination folders: no name can leave them, no file
 *   is opened through a link, symlinks are created last and only if they point inside their tree.
 * - On rejection, writing has stopped before the promise settles; what was written inside the
 *   destinations stays there for the caller to delete (it extracts into a staging folder).
 * - Memory stays flat in the data size (bounded chunks and writes in flight) and nearly flat in
 *   the number of entries: names are indexed by digest (a few dozen bytes each), what was
 *   stored is logged to a spool file in a private work folder, and the manifest is checked as
 *   it streams past, against that log.
 * - No owners are applied and no setuid/setgid/sticky bits: mode & 0o777.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { splitLines } from "../archive/line-spool";
import { MAX_MANIFEST_BYTES, type ManifestSummary } from "../archive/manifest";
import { writevAll } from "../archive/write-all";
import { ArchiveRefusal, quoteName, refuse, toInvalidError, type ReadPurpose } from "./extract-errors";
import { checkManifest, EntryIndex, StoredLog } from "./extract-manifest";
import { checkEntryPath, checkLinkTarget, entryKind, placeEntry, type DatabaseName } from "./extract-paths";
import { openArchiveSource, type ArchiveSource } from "./extract-source";
import type { AgeKeys } from "../crypto";
import { TarReader, type TarEntry } from "./extract-tar";
import { DestinationWriter, SMALL_FILE_MAX } from "./extract-writer";
import { checkDatabaseIntegrity } from "./verify-database";

export { ArchiveInvalidError } from "./extract-errors";
export type { ArchiveProblem } from "./extract-errors";

export interface ExtractLimits {
  /** Entries of any kind (files, folders, links, the manifest). Default 2,000,000. */
  maxEntries: number;
  /** Sum of the sizes the headers declare, refused before the body is read. Default 16 TiB. */
  maxTotalBytes: number;
  /**
   * Uncompressed bytes / compressed bytes read so far, checked on every chunk once 4 MiB are
   * out. Default 1100: one layer of deflate cannot exceed about 1032:1, and a NAS may hold
   * files of nothing but zeros (disk images) that legitimately come close to it, so the
   * default refuses only streams no honest gzip produces. What stops a bomb from filling
   * the disk is maxTotalBytes, which a restore sets to the free space of its staging volume.
   */
  maxCompressionRatio: number;
  /** Bytes in an entry name or link target. Default 4096. */
  maxPathBytes: number;
}

export const DEFAULT_EXTRACT_LIMITS: Readonly<ExtractLimits> = Object.freeze({
  maxEntries: 2_000_000,
  maxTotalBytes: 16 * 1024 ** 4,
  maxCompressionRatio: 1100,
  maxPathBytes: 4096,
});

export interface ExtractProgress {
  entriesDone: number;
  /** Body bytes read (and written, for parts with a destination). */
  bytesDone: number;
  compressedBytesRead: number;
  compressedBytesTotal: number;
}

export interface ExtractOptions {
  archivePath: string;
  /** Where each part goes; a part without a destination is parsed and checked but not written. */
  destinations: {
    /** Receives baluhost.db (and, from foreign archives only, baluhost.db-wal / -shm). */
    database?: string;
    files?: string;
    config?: string;
  };
  /**
   * Which entries to write, by archive path relative to "backup/" ("files/a.txt",
   * "database/baluhost.db"); default all. Entries not wanted are still read, hashed and checked.
   */
  wanted?: (path: string) => boolean | Promise<boolean>;
  limits?: Partial<ExtractLimits>;
  signal?: AbortSignal;
  /** Called at most about 10 times a second, plus once at the end. */
  onProgress?: (p: ExtractProgress) => void;
  /** Each regular file written, by archive path ("files/a.txt", "database/baluhost.db"). */
  onWritten?: (file: WrittenFile) => void;
  /** Where the manifest's text is saved as it streams past (a new file, flag "wx"), for callers that need its entries. */
  manifestCopyPath?: string;
  /** Where a private work folder for spool files is made (default os.tmpdir()); removed at the end. */
  workDir?: string;
  /**
   * A new file (created "wx") that receives a copy of the compressed archive as it is read,
   * fsynced at the end; removed if the archive is refused. One read both verifies and copies.
   */
  copyTo?: string;
  /** Keys for an encrypted (age) archive; a plain archive ignores them. */
  keys?: AgeKeys;
}

export interface WrittenFile {
  path: string;
  size: number;
  sha256: string;
}

export interface ExtractResult {
  /** The manifest without its entries; null: a foreign archive in the spec layout, without our manifest. */
  manifest: ManifestSummary | null;
  /** Regular files written. */
  filesWritten: number;
  /** Names written into destinations.database: "baluhost.db" and, foreign archives only, "baluhost.db-wal"/"-shm". */
  databaseFiles: string[];
  entries: number;
  totalBytes: number;
  parts: ArchiveParts;
  /** Regular files under files/. */
  treeFiles: number;
  /** The newest entry mtime in the archive (ms), null when none has one: when an archive without a manifest was made, roughly. */
  newestMtimeMs: number | null;
  /** With copyTo: the copy's size and SHA-256 (it is fsynced). */
  copy: { bytes: number; sha256: string } | null;
}

export interface VerifyOptions {
  limits?: Partial<ExtractLimits>;
  signal?: AbortSignal;
  onProgress?: (p: ExtractProgress) => void;
  /** Where the database is copied for its integrity check (default os.tmpdir()); removed afterwards. */
  databaseCheckDir?: string;
  manifestCopyPath?: string;
  workDir?: string;
  /**
   * Called with the private copy of the archive's database (its -wal and -shm applied beside
   * it) after the integrity check, before the copy is removed: a foreign database is looked at here.
   */
  inspectDatabase?: (file: string) => void;
  /** Keys for an encrypted (age) archive; a plain archive ignores them. */
  keys?: AgeKeys;
}

/** Which parts of the layout an archive has entries in (its folder, or anything below it). */
export interface ArchiveParts {
  database: boolean;
  files: boolean;
  config: boolean;
}

export interface VerifyResult {
  manifest: ManifestSummary | null;
  entries: number;
  totalBytes: number;
  /** Files the backup holds: the manifest's total (including an incremental's unchanged files), else regular files found. */
  fileCount: number;
  databaseIntegrity: "ok" | "absent";
  parts: ArchiveParts;
  /** Regular files under files/ (the manifest's totals say the same for our archives). */
  treeFiles: number;
  newestMtimeMs: number | null;
}

/** Extracts an archive into the destination folders; see the module comment. */
export async function extractArchive(opts: ExtractOptions): Promise<ExtractResult> {
  const { result } = await readArchive(opts, "restore");
  return result;
}

/**
 * The same checks without writing the tree: streams, hashes, compares with the manifest. A
 * database entry is copied to a private temporary folder, integrity-checked and removed.
 */
export async function verifyArchive(archivePath: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const dir = await fs.promises.mkdtemp(path.join(opts.databaseCheckDir ?? os.tmpdir(), "baluhost-verify-"));
  try {
    const { result, fileEntries } = await readArchive(
      {
        archivePath,
        destinations: { database: dir },
        limits: opts.limits,
        signal: opts.signal,
        onProgress: opts.onProgress,
        manifestCopyPath: opts.manifestCopyPath,
        workDir: opts.workDir ?? opts.databaseCheckDir,
        keys: opts.keys,
      },
      "verify",
    );
    let databaseIntegrity: VerifyResult["databaseIntegrity"] = "absent";
    if (result.databaseFiles.includes("baluhost.db")) {
      try {
        checkDatabaseIntegrity(path.join(dir, "baluhost.db"));
      } catch (err) {
        throw err instanceof ArchiveRefusal ? toInvalidError(err, archivePath, "verify") : err;
      }
      databaseIntegrity = "ok";
      opts.inspectDatabase?.(path.join(dir, "baluhost.db"));
    }
    return {
      manifest: result.manifest,
      entries: result.entries,
      totalBytes: result.totalBytes,
      fileCount: result.manifest ? result.manifest.totals.files : fileEntries,
      databaseIntegrity,
      parts: result.parts,
      treeFiles: result.treeFiles,
      newestMtimeMs: result.newestMtimeMs,
    };
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

const WRITE_CONCURRENCY = 12;
const PROGRESS_INTERVAL_MS = 100;

async function readArchive(opts: ExtractOptions, purpose: ReadPurpose): Promise<{ result: ExtractResult; fileEntries: number }> {
  const signal = opts.signal;
  if (signal?.aborted) throw abortError(signal);
  const limits = resolveLimits(opts.limits);
  // Made before the archive is opened: decompression starts at once, and its errors must
  // find the reader listening.
  const work = await fs.promises.mkdtemp(path.join(opts.workDir ?? os.tmpdir(), ".baluhost-extract-"));
  let source: ArchiveSource;
  let log: StoredLog | undefined;
  try {
    log = await StoredLog.create(path.join(work, "stored.jsonl"));
    source = await openArchiveSource(opts.archivePath, limits.maxCompressionRatio, opts.copyTo, opts.keys);
  } catch (err) {
    await log?.remove();
    await fs.promises.rm(work, { recursive: true, force: true }).catch(() => undefined);
    throw err instanceof ArchiveRefusal ? toInvalidError(err, opts.archivePath, purpose) : err;
  }
  const src = source;
  const run = new Extraction(opts, limits, src, work, log);
  const onAbort = () => src.close(); // wakes a pending read; the loop then sees the signal
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    return await run.run();
  } catch (err) {
    src.close();
    await run.abort();
    if (opts.manifestCopyPath && run.madeManifestCopy) await fs.promises.rm(opts.manifestCopyPath, { force: true }).catch(() => undefined);
    if (opts.copyTo) await fs.promises.rm(opts.copyTo, { force: true }).catch(() => undefined);
    if (signal?.aborted) throw abortError(signal);
    if (err instanceof ArchiveRefusal) throw toInvalidError(err, opts.archivePath, purpose);
    throw err;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    src.close();
    await run.cleanUp();
    await fs.promises.rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
}

function resolveLimits(given: Partial<ExtractLimits> | undefined): ExtractLimits {
  const limits = { ...DEFAULT_EXTRACT_LIMITS };
  for (const key of Object.keys(limits) as Array<keyof ExtractLimits>) {
    const v = given?.[key];
    if (v === undefined) continue;
    if (typeof v !== "number" || !(v > 0)) throw new TypeError(`extractArchive: limits.${key} must be a positive number`);
    limits[key] = v;
  }
  return limits;
}

function abortError(signal: AbortSignal): Error {
  const err = new Error("Reading the archive was cancelled", { cause: signal.reason });
  err.name = "AbortError";
  (err as Error & { code: string }).code = "ABORT_ERR";
  return err;
}

interface Sidecar {
  name: DatabaseName;
  /** The temporary file it was written to, or null when it was not written. */
  temp: string | null;
  size: number;
  sha256: string;
}

/** One read of one archive. */
class Extraction {
  private readonly tar: TarReader;
  private readonly writer: DestinationWriter;
  private readonly index: EntryIndex;
  private readonly wanted: (path: string) => boolean | Promise<boolean>;
  private entries = 0;
  private fileEntries = 0;
  private treeFiles = 0;
  private newestMtimeMs: number | null = null;
  private readonly parts: ArchiveParts = { database: false, files: false, config: false };
  private filesWritten = 0;
  private totalBytes = 0;
  private bytesDone = 0;
  private manifestSeen = false;
  /** Whether this run created manifestCopyPath (only then is it removed after a failure). */
  madeManifestCopy = false;
  private manifest: ManifestSummary | null = null;
  private readonly sidecars: Sidecar[] = [];
  private readonly databaseFiles: string[] = [];
  private lastProgressAt = -Infinity;

  constructor(
    private readonly opts: ExtractOptions,
    private readonly limits: ExtractLimits,
    private readonly src: ArchiveSource,
    private readonly workDir: string,
    private readonly log: StoredLog,
  ) {
    this.index = new EntryIndex(log);
    this.tar = new TarReader(src);
    this.writer = new DestinationWriter(WRITE_CONCURRENCY, workDir);
    this.wanted = opts.wanted ?? (() => true);
  }

  async run(): Promise<{ result: ExtractResult; fileEntries: number }> {
    const signal = this.opts.signal;
    for (;;) {
      if (signal?.aborted) throw abortError(signal);
      this.writer.check();
      const entry = await this.tar.next();
      if (!entry) break;
      await this.handle(entry);
      this.progress(false);
    }
    if (this.entries === 0) refuse("corrupt", "it contains no entries");
    await this.writer.drain();

    if (!this.manifestSeen) {
      if (this.sidecars.length > 0 && !this.index.has("database/baluhost.db")) {
        const s = this.sidecars[0];
        refuse("database", `it has backup/database/${s.name} but no backup/database/baluhost.db`, `backup/database/${s.name}`);
      }
      // A foreign archive: the headers' (whole-second) mtimes are all there is.
      await this.writer.createLinks();
      for await (const batch of this.log.entries()) {
        for (const e of batch) if (e.written && e.kind === "file" && e.mtimeMs !== null) this.writer.setTime(this.absOf(e.rel), e.mtimeMs);
      }
    }
    if (signal?.aborted) throw abortError(signal);
    await this.writer.finishFolders(!this.manifestSeen);
    if (!this.manifestSeen) await this.keepSidecars();
    const copy = await this.src.finishCopy();
    this.progress(true);
    return {
      result: {
        manifest: this.manifest,
        filesWritten: this.filesWritten,
        databaseFiles: this.databaseFiles,
        entries: this.entries,
        totalBytes: this.totalBytes,
        parts: { ...this.parts },
        treeFiles: this.treeFiles,
        newestMtimeMs: this.newestMtimeMs,
        copy,
      },
      fileEntries: this.fileEntries,
    };
  }

  /** After a failure: nothing is written any more, temporary database side files are gone. */
  async abort(): Promise<void> {
    await this.writer.abort();
    await Promise.all(this.sidecars.map((s) => (s.temp ? fs.promises.rm(s.temp, { force: true }).catch(() => undefined) : undefined)));
  }

  /** Removes the spool files (the caller removes the work folder). */
  async cleanUp(): Promise<void> {
    await this.writer.cleanUp();
    await this.log.remove();
  }

  private async handle(e: TarEntry): Promise<void> {
    const { limits } = this;
    if (e.mtimeMs !== undefined && e.mtimeMs !== null && (this.newestMtimeMs === null || e.mtimeMs > this.newestMtimeMs)) this.newestMtimeMs = e.mtimeMs;
    if (++this.entries > limits.maxEntries) {
      refuse("limit", `it has more than ${limits.maxEntries} entries (the limit)`, e.path);
    }
    if (this.manifestSeen) {
      refuse("layout", `the entry ${quoteName(e.path)} comes after backup/manifest.json, which must be the last entry`, e.path);
    }
    const kind = entryKind(e.type, e.path, e.linkpath);
    const placed = placeEntry(e.path, checkEntryPath(e.path, kind, limits.maxPathBytes), kind);
    this.totalBytes += e.size;
    if (this.totalBytes > limits.maxTotalBytes) {
      refuse("limit", `its entries add up to more than ${limits.maxTotalBytes} bytes (the limit), at ${quoteName(e.path)}`, e.path);
    }
    await this.index.add(placed.rel, placed.kind === "manifest" ? "manifest" : kind, e.path);
    const dest = this.opts.destinations;
    const part = placed.rel.split("/")[0];
    if (part === "database" || part === "files" || part === "config") this.parts[part] = true;

    switch (placed.kind) {
      case "root-dir": {
        const root = placed.rel === "files" ? dest.files : placed.rel === "config" ? dest.config : undefined;
        if (root && (await this.wanted(placed.rel))) await this.writer.addDir(root, [], null, null);
        return;
      }
      case "manifest":
        return this.readManifest(e);
      case "database": {
        this.fileEntries++;
        const root = dest.database && (await this.wanted(placed.rel)) ? dest.database : null;
        if (placed.name === "baluhost.db") {
          await this.file(e, root, [placed.name], placed.rel);
          if (root) this.databaseFiles.push(placed.name);
          return;
        }
        // A -wal/-shm is only acceptable in a foreign archive, which is known only at the end
        // (our manifest is the last entry): kept under a temporary name until then.
        const tempName = `.${placed.name}.${crypto.randomBytes(6).toString("hex")}.extracting`;
        const sidecar: Sidecar = { name: placed.name, temp: root ? path.join(root, tempName) : null, size: e.size, sha256: "" };
        this.sidecars.push(sidecar);
        sidecar.sha256 = await this.file(e, root, [tempName], null);
        return;
      }
      case "tree": {
        const treeRoot = dest[placed.part];
        const root = treeRoot && (await this.wanted(placed.rel)) ? treeRoot : null;
        const logged = { rel: placed.rel, size: 0, sha256: null, linkTarget: null, written: root !== null, mtimeMs: e.mtimeMs ?? null };
        if (placed.type === "dir") {
          if (root) await this.writer.addDir(root, placed.inside, e.mode, e.mtimeMs);
          await this.log.append({ ...logged, kind: "dir" });
        } else if (placed.type === "symlink") {
          const target = e.linkpath ?? "";
          checkLinkTarget(e.path, placed.inside, target, limits.maxPathBytes);
          if (root) await this.writer.addSymlink(root, placed.inside, target, e.mtimeMs);
          await this.log.append({ ...logged, kind: "symlink", linkTarget: target });
        } else {
          this.fileEntries++;
          if (placed.part === "files") this.treeFiles++;
          await this.file(e, root, placed.inside, placed.rel);
        }
        return;
      }
    }
  }

  /**
   * Streams one file's body: hashed always, written when `root` is given, logged under `rel`
   * (null: a database side file under its temporary name, not logged). Returns its SHA-256.
   */
  private async file(e: TarEntry, root: string | null, segments: string[], rel: string | null): Promise<string> {
    const hash = crypto.createHash("sha256");
    const tar = this.tar;
    if (!root) {
      for (let c = await tar.body(); c !== null; c = await tar.body()) {
        hash.update(c);
        this.bytesDone += c.length;
        this.progress(false);
      }
    } else if (e.size <= SMALL_FILE_MAX) {
      // The body is copied into the writer's buffer: the reader reuses its own (see extract-source.ts).
      await this.writer.writeSmallFile(root, segments, e.size, e.mode, async (into) => {
        let at = 0;
        for (let c = await tar.body(); c !== null; c = await tar.body()) {
          hash.update(c);
          at += c.copy(into, at);
        }
      });
      this.bytesDone += e.size;
    } else {
      await this.writer.writeStreamedFile(root, segments, e.mode, async () => {
        const c = await tar.body();
        if (c) {
          hash.update(c);
          this.bytesDone += c.length;
          this.progress(false);
        }
        return c;
      });
    }
    const sha256 = hash.digest("hex");
    if (rel === null) return sha256;
    await this.log.append({ rel, kind: "file", size: e.size, sha256, linkTarget: null, written: root !== null, mtimeMs: e.mtimeMs ?? null });
    if (root) {
      this.filesWritten++;
      this.opts.onWritten?.({ path: rel, size: e.size, sha256 });
    }
    return sha256;
  }

  /**
   * backup/manifest.json, our archives' last entry: once every file is written and every link
   * made, its text is checked entry by entry against the log as it streams past (and saved to
   * manifestCopyPath when asked), and each entry written gets the manifest's precise mtime.
   */
  private async readManifest(e: TarEntry): Promise<void> {
    if (e.size > MAX_MANIFEST_BYTES) refuse("manifest", `its manifest is ${e.size} bytes, more than the ${MAX_MANIFEST_BYTES} allowed`, e.path);
    this.manifestSeen = true;
    await this.writer.drain();
    await this.writer.createLinks();
    const copy = this.opts.manifestCopyPath ? await fs.promises.open(this.opts.manifestCopyPath, "wx", 0o600) : null;
    this.madeManifestCopy = copy !== null;
    const tar = this.tar;
    const body = async function* (): AsyncGenerator<Buffer> {
      for (let c = await tar.body(); c !== null; c = await tar.body()) {
        if (copy) await writevAll(async (bufs) => (await copy.writev(bufs)).bytesWritten, [c]);
        yield c;
      }
    };
    try {
      this.manifest = await checkManifest({
        lines: splitLines(body()),
        index: this.index,
        stored: this.log,
        sidecars: this.sidecars.map((s) => s.name),
        onMatched: (entry) => this.writer.setTime(this.absOf(entry.path), entry.mtime),
      });
      // Whatever the check did not need (blank lines after the end) is read, and so copied, too.
      for await (const rest of body()) void rest;
      await copy?.sync();
    } finally {
      await copy?.close();
    }
  }

  /** Where an entry (by archive path relative to "backup/") was written. */
  private absOf(rel: string): string {
    const slash = rel.indexOf("/");
    const part = rel.slice(0, slash) as "database" | "files" | "config";
    return path.join(this.opts.destinations[part]!, rel.slice(slash + 1));
  }

  /** Foreign archive: the -wal/-shm kept under temporary names get their real names. */
  private async keepSidecars(): Promise<void> {
    for (const s of this.sidecars) {
      if (!s.temp) continue;
      const final = path.join(path.dirname(s.temp), s.name);
      const exists = await fs.promises.lstat(final).then(
        () => true,
        (err: NodeJS.ErrnoException) => (err.code === "ENOENT" ? false : Promise.reject(err)),
      );
      if (exists) {
        throw Object.assign(new Error(`Cannot restore ${final}: something is already there (the restore folder must be empty).`), { code: "EEXIST", path: final });
      }
      await fs.promises.rename(s.temp, final);
      s.temp = null;
      this.databaseFiles.push(s.name);
      this.filesWritten++;
      this.opts.onWritten?.({ path: `database/${s.name}`, size: s.size, sha256: s.sha256 });
    }
  }

  private progress(force: boolean): void {
    const cb = this.opts.onProgress;
    if (!cb) return;
    const now = performance.now();
    if (!force && now - this.lastProgressAt < PROGRESS_INTERVAL_MS) return;
    this.lastProgressAt = now;
    const c = this.src.counters;
    cb({
      entriesDone: this.entries,
      bytesDone: this.bytesDone,
      compressedBytesRead: c.compressedRead,
      compressedBytesTotal: c.compressedTotal,
    });
  }
}
