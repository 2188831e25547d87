/**
 * The browse index of one backup: a small SQLite file in `.manifests/`
 * (`<archive>.tree.sqlite`), built on first use by streaming manifests, and then queried by
 * folder, by path prefix and by search. It holds the full tree as of that backup, resolved
 * through its chain: each file row says which archive of the chain holds its body
 * (`src`, a backup id) and where (`off`, the tar offset of its header).
 *
 * Why a file and not memory: a backup of 300,000 files must list one folder without the
 * server holding 300,000 entries per request. Building streams the manifests in batches;
 * SQLite pages hold the rest. Backups never change once written, so an index never goes
 * stale; it is rebuilt only when its format version changes, and deleted with its backup.
 *
 * Offsets come from the seek index written with the archive (archive/seek-index.ts). An
 * archive without one (written before it existed, imported, or another tool's) is scanned
 * once, its headers only, to find them; an archive without our manifest (the original
 * BaluHost's) is listed from that scan alone, without checksums.
 *
 * The index is built under a temporary name and renamed into place, so a reader never sees
 * a half-built one.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { AppDatabase } from "@/db/client";
import type { Backup } from "@/db/schema";
import type { AppConfig } from "../../config";
import { AppError } from "../../errors";
import { ArchiveError } from "../archive/errors";
import type { ManifestFileEntry } from "../archive/types";
import { SeekIndex } from "../archive/seek-index";
import { archivePath, seekIndexPath, streamManifest, treeIndexPath } from "../catalog";
import { resolveChain } from "../restore/restore";
import { archivePlaintextSize, openArchiveBytes } from "./archive-bytes";
import { TarCursor } from "./tar-cursor";

const INDEX_VERSION = "1";
const KIND = { dir: 0, file: 1, symlink: 2 } as const;
export type EntryKind = keyof typeof KIND;
const KIND_NAMES: EntryKind[] = ["dir", "file", "symlink"];

export interface TreeEntry {
  /** Archive path relative to backup/: "files/alice/a.txt"; folders too ("files/alice"). */
  path: string;
  name: string;
  type: EntryKind;
  size: number;
  /** Milliseconds since the epoch; null for a folder the manifest does not list (a part's root). */
  mtime: number | null;
  mode: number | null;
  sha256: string | null;
  linkTarget: string | null;
  /** Files: the backup whose archive holds the body, and the tar offset of its header there. */
  src: number | null;
  off: number | null;
}

export interface TreeSource {
  id: number;
  filename: string;
  archiveDir: string;
  /** Whether a seek index file exists for it (else reads inflate from the start). */
  seek: boolean;
}

interface Row {
  path: string;
  name: string;
  kind: number;
  size: number;
  mtime: number | null;
  mode: number | null;
  sha256: string | null;
  link_target: string | null;
  src: number | null;
  off: number | null;
}

function toEntry(r: Row): TreeEntry {
  return {
    path: r.path,
    name: r.name,
    type: KIND_NAMES[r.kind],
    size: r.size,
    mtime: r.mtime,
    mode: r.mode,
    sha256: r.sha256,
    linkTarget: r.link_target,
    src: r.src,
    off: r.off,
  };
}

export function parentOf(p: string): string {
  const i = p.lastIndexOf("/");
  return i === -1 ? "" : p.slice(0, i);
}

export function baseName(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

/**
 * A path an archive without our manifest may be listed with: relative, no empty, "." or ".."
 * segments, no NUL or backslash. (Such an archive was checked by the hardened extractor when
 * it was imported; this keeps the index from ever holding anything else.)
 */
function plainPath(p: string): boolean {
  return p !== "" && !p.includes("\0") && !p.includes("\\") && !p.startsWith("/") && p.split("/").every((s) => s !== "" && s !== "." && s !== "..");
}

/** An opened browse index; close it when done (queries are synchronous and cheap). */
export class TreeIndex {
  private constructor(
    private readonly sqlite: Database.Database,
    readonly backupId: number,
    /** Whether the tree has checksums (false: an archive without our manifest). */
    readonly hasChecksums: boolean,
  ) {}

  static open(file: string, backupId: number): TreeIndex | null {
    let sqlite: Database.Database;
    try {
      sqlite = new Database(file, { readonly: true, fileMustExist: true });
    } catch {
      return null;
    }
    try {
      const meta = Object.fromEntries((sqlite.prepare("SELECT key, value FROM meta").all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
      if (meta.version !== INDEX_VERSION || meta.backup_id !== String(backupId)) throw new Error("other index");
      return new TreeIndex(sqlite, backupId, meta.checksums === "1");
    } catch {
      sqlite.close();
      return null;
    }
  }

  close(): void {
    this.sqlite.close();
  }

  get(p: string): TreeEntry | null {
    const r = this.sqlite.prepare("SELECT * FROM entries WHERE path = ?").get(p) as Row | undefined;
    return r ? toEntry(r) : null;
  }

  /** A folder's children, folders first then by name, a page at a time. */
  list(folder: string, offset: number, limit: number): { entries: TreeEntry[]; total: number } {
    const total = (this.sqlite.prepare("SELECT count(*) AS n FROM entries WHERE parent = ?").get(folder) as { n: number }).n;
    const rows = this.sqlite
      .prepare("SELECT * FROM entries WHERE parent = ? ORDER BY kind != 0, name LIMIT ? OFFSET ?")
      .all(folder, limit, offset) as Row[];
    return { entries: rows.map(toEntry), total };
  }

  /** Paths containing `text` (case-insensitive for ASCII), shortest first. */
  search(text: string, limit: number, under = ""): TreeEntry[] {
    const pattern = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const rows = this.sqlite
      .prepare(
        `SELECT * FROM entries WHERE path LIKE ? ESCAPE '\\' ${under ? "AND path > ? AND path < ?" : ""}
          ORDER BY length(path), path LIMIT ?`,
      )
      .all(...(under ? [pattern, `${under}/`, `${under}0`, limit] : [pattern, limit])) as Row[];
    return rows.map(toEntry);
  }

  /** The entry at `p` and everything below it, in path order. */
  *subtree(p: string): Generator<TreeEntry> {
    const self = this.get(p);
    if (self) yield self;
    if (self && self.type !== "dir") return;
    // "a/" < every "a/…" < "a0" ('0' follows '/'): a range on the primary key.
    const it = this.sqlite.prepare("SELECT * FROM entries WHERE path > ? AND path < ? ORDER BY path").iterate(p === "" ? "" : `${p}/`, p === "" ? "\uffff" : `${p}0`);
    for (const r of it) yield toEntry(r as Row);
  }

  /** Files below (or at) `p` whose body is in backup `src`, in archive order. */
  *filesIn(p: string, src: number): Generator<TreeEntry> {
    const it =
      p === ""
        ? this.sqlite.prepare("SELECT * FROM entries WHERE kind = 1 AND src = ? ORDER BY off, path").iterate(src)
        : this.sqlite
            .prepare("SELECT * FROM entries WHERE kind = 1 AND src = ? AND (path = ? OR (path > ? AND path < ?)) ORDER BY off, path")
            .iterate(src, p, `${p}/`, `${p}0`);
    for (const r of it) yield toEntry(r as Row);
  }

  /** Counts and bytes of the files at or below `p`. */
  totals(p: string): { files: number; bytes: number; folders: number } {
    const r = this.sqlite
      .prepare(
        `SELECT coalesce(sum(kind = 1), 0) AS files, coalesce(sum(CASE WHEN kind = 1 THEN size END), 0) AS bytes,
                coalesce(sum(kind = 0), 0) AS folders
           FROM entries WHERE path = ? OR (path > ? AND path < ?)`,
      )
      .get(p, p === "" ? "" : `${p}/`, p === "" ? "\uffff" : `${p}0`) as { files: number; bytes: number; folders: number };
    return r;
  }

  sources(): TreeSource[] {
    return (this.sqlite.prepare("SELECT id, filename, archive_dir, seek FROM sources ORDER BY id").all() as Array<{ id: number; filename: string; archive_dir: string; seek: number }>).map(
      (s) => ({ id: s.id, filename: s.filename, archiveDir: s.archive_dir, seek: s.seek === 1 }),
    );
  }
}

const building = new Map<string, Promise<void>>();

/** The browse index of a completed backup, built first if it does not exist yet. */
export async function openTreeIndex(opts: { db: AppDatabase; config: AppConfig; row: Backup }): Promise<TreeIndex> {
  const { config, row } = opts;
  const file = treeIndexPath(config, row.filename);
  const existing = TreeIndex.open(file, row.id);
  if (existing) return existing;
  if (row.status !== "completed") {
    throw new AppError("CONFLICT", `Backup ${row.id} is ${row.status.replace("_", " ")}; only completed backups can be browsed.`);
  }
  let job = building.get(file);
  if (!job) {
    // Retention's sweep of the manifest folder may remove a temporary index being built
    // (it does not know it): build once more then.
    job = buildTreeIndex(opts, file)
      .catch((err) => {
        if ((err as NodeJS.ErrnoException)?.code === "ENOENT" || (err as { code?: string })?.code === "SQLITE_READONLY_DBMOVED") return buildTreeIndex(opts, file);
        throw err;
      })
      .finally(() => building.delete(file));
    building.set(file, job);
  }
  await job;
  const built = TreeIndex.open(file, row.id);
  if (!built) throw new AppError("INTERNAL", `The browse index of backup ${row.id} could not be opened.`);
  return built;
}

async function buildTreeIndex(opts: { db: AppDatabase; config: AppConfig; row: Backup }, file: string): Promise<void> {
  const { db, config, row } = opts;
  const chain = resolveChain(db, config, row).reverse(); // newest (the target) first
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.partial`;
  await fs.promises.mkdir(path.dirname(file), { recursive: true }); // an archive without our manifest has no copy there yet
  const sqlite = new Database(tmp);
  try {
    sqlite.pragma("journal_mode = OFF");
    sqlite.pragma("synchronous = OFF");
    sqlite.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE sources (id INTEGER PRIMARY KEY, filename TEXT NOT NULL, archive_dir TEXT NOT NULL, seek INTEGER NOT NULL);
      CREATE TABLE entries (
        path TEXT PRIMARY KEY, parent TEXT NOT NULL, name TEXT NOT NULL, kind INTEGER NOT NULL,
        size INTEGER NOT NULL, mtime REAL, mode INTEGER, sha256 TEXT, link_target TEXT, src INTEGER, off INTEGER
      );`);
    const builder = new Builder(sqlite);
    let checksums = true;
    const target = chain[0];
    const manifest = await streamManifest(config, target).catch((err) => {
      if (err instanceof ArchiveError || (err instanceof AppError && err.code === "ARCHIVE_INVALID") || !target.fileList) return null;
      throw err;
    });
    if (manifest) {
      await builder.addManifest(config, target, manifest.entries, true);
      for (const older of chain.slice(1)) {
        if (builder.unresolved() === 0) break;
        const m = await streamManifest(config, older);
        await builder.addManifest(config, older, m.entries, false);
      }
      if (builder.unresolved() > 0) {
        const first = sqlite.prepare("SELECT path FROM entries WHERE kind = 1 AND src IS NULL LIMIT 1").get() as { path: string };
        throw new AppError("ARCHIVE_INVALID", `${row.filename} lists files, such as ${first.path}, that are in none of the backups of its chain.`);
      }
      for (const s of builder.sourcesWithoutSeek()) await builder.scanOffsets(config, s);
    } else {
      checksums = false;
      await builder.addFromScan(config, target);
    }
    sqlite.exec("CREATE INDEX by_parent ON entries (parent, kind != 0, name)");
    const setMeta = sqlite.prepare("INSERT INTO meta (key, value) VALUES (?, ?)");
    setMeta.run("version", INDEX_VERSION);
    setMeta.run("backup_id", String(row.id));
    setMeta.run("checksums", checksums ? "1" : "0");
    sqlite.close();
    await fs.promises.rename(tmp, file);
  } catch (err) {
    if (sqlite.open) sqlite.close();
    await fs.promises.rm(tmp, { force: true });
    if (err instanceof ArchiveError) throw new AppError("ARCHIVE_INVALID", err.message, { cause: err });
    throw err;
  }
}

class Builder {
  private readonly upsert: Database.Statement;
  private readonly addDir: Database.Statement;
  private readonly resolve: Database.Statement;
  private readonly setOff: Database.Statement;
  private readonly addSource: Database.Statement;
  private readonly knownDirs = new Set<string>();
  private missing = 0;
  private readonly noSeek: Backup[] = [];

  constructor(private readonly sqlite: Database.Database) {
    this.upsert = sqlite.prepare(
      `INSERT INTO entries (path, parent, name, kind, size, mtime, mode, sha256, link_target, src, off)
       VALUES (@path, @parent, @name, @kind, @size, @mtime, @mode, @sha256, @link_target, @src, @off)
       ON CONFLICT (path) DO UPDATE SET kind = excluded.kind, size = excluded.size, mtime = excluded.mtime, mode = excluded.mode,
         sha256 = excluded.sha256, link_target = excluded.link_target, src = excluded.src, off = excluded.off`,
    );
    this.addDir = sqlite.prepare("INSERT OR IGNORE INTO entries (path, parent, name, kind, size) VALUES (?, ?, ?, 0, 0)");
    this.resolve = sqlite.prepare("UPDATE entries SET src = ?, off = ? WHERE path = ? AND kind = 1 AND src IS NULL AND sha256 = ?");
    this.setOff = sqlite.prepare("UPDATE entries SET off = ? WHERE path = ? AND src = ? AND kind = 1");
    this.addSource = sqlite.prepare("INSERT OR REPLACE INTO sources (id, filename, archive_dir, seek) VALUES (?, ?, ?, ?)");
  }

  unresolved(): number {
    return this.missing;
  }

  sourcesWithoutSeek(): Backup[] {
    return this.noSeek.filter((b) => (this.sqlite.prepare("SELECT 1 FROM entries WHERE src = ? AND off IS NULL LIMIT 1").get(b.id) as unknown) !== undefined);
  }

  /** Parents of `p` that are not rows yet, as folders without details. */
  private ensureParents(p: string): void {
    for (let dir = parentOf(p); dir !== "" && !this.knownDirs.has(dir); dir = parentOf(dir)) {
      this.knownDirs.add(dir);
      this.addDir.run(dir, parentOf(dir), baseName(dir));
    }
  }

  /** The target's manifest (every row) or an older one's (resolving where unchanged files are stored). */
  async addManifest(config: AppConfig, b: Backup, entries: AsyncGenerator<ManifestFileEntry[]>, isTarget: boolean): Promise<void> {
    const seek = await SeekIndex.open(seekIndexPath(config, b.filename));
    const seekOk = seek !== null && seek.archiveSize === (await archivePlaintextSize(archivePath(config, b)));
    const offsets = seekOk ? seek!.entryOffsets() : null;
    let buf: Float64Array = new Float64Array(0);
    let at = 0;
    let count = 0;
    const nextOffset = async (): Promise<number> => {
      if (!offsets) return -1;
      if (at === buf.length) {
        const r = await offsets.next();
        if (r.done) return -2;
        buf = r.value;
        at = 0;
      }
      return buf[at++];
    };
    let offsetsMatch = seekOk;
    try {
      for await (const batch of entries) {
        const offs: number[] = [];
        for (let i = 0; i < batch.length; i++) {
          const o = await nextOffset();
          if (o === -2) offsetsMatch = false;
          offs.push(o);
        }
        this.sqlite.transaction(() => {
          batch.forEach((e, i) => {
            count++;
            const off = offsetsMatch && offs[i] >= 0 ? offs[i] : null;
            if (isTarget) {
              this.ensureParents(e.path);
              if (e.type === "dir") this.knownDirs.add(e.path);
              const stored = e.type === "file" && e.in_archive;
              if (e.type === "file" && !e.in_archive) this.missing++;
              this.upsert.run({
                path: e.path,
                parent: parentOf(e.path),
                name: baseName(e.path),
                kind: KIND[e.type],
                size: e.type === "file" ? e.size : 0,
                mtime: e.mtime,
                mode: e.mode,
                sha256: e.sha256 ?? null,
                link_target: e.link_target ?? null,
                src: stored ? b.id : null,
                off: stored ? off : null,
              });
            } else if (e.type === "file" && e.in_archive) {
              this.missing -= this.resolve.run(b.id, off, e.path, e.sha256).changes;
            }
          });
        })();
      }
      if (offsetsMatch && count !== seek!.entryCount) offsetsMatch = false;
    } finally {
      await seek?.close();
    }
    if (!offsetsMatch) {
      this.sqlite.prepare("UPDATE entries SET off = NULL WHERE src = ?").run(b.id);
      this.noSeek.push(b);
    }
    this.addSource.run(b.id, b.filename, b.archiveDir, offsetsMatch ? 1 : 0);
  }

  /** Finds the header offsets of `b`'s files by reading its tar headers once. */
  async scanOffsets(config: AppConfig, b: Backup): Promise<void> {
    await this.eachHeader(config, b, (name, head) => {
      if (head.type === "file") this.setOff.run(head.offset, name, b.id);
    });
  }

  /** An archive without our manifest: its entries as its headers list them. */
  async addFromScan(config: AppConfig, b: Backup): Promise<void> {
    this.addSource.run(b.id, b.filename, b.archiveDir, 0);
    await this.eachHeader(config, b, (name, head) => {
      if (head.type === "other" || name === "manifest.json" || !plainPath(name)) return;
      this.ensureParents(name);
      if (head.type === "dir") this.knownDirs.add(name);
      this.upsert.run({
        path: name,
        parent: parentOf(name),
        name: baseName(name),
        kind: KIND[head.type],
        size: head.type === "file" ? head.size : 0,
        mtime: head.mtimeMs,
        mode: head.mode,
        sha256: null,
        link_target: head.type === "symlink" ? head.linkTarget : null,
        src: head.type === "file" ? b.id : null,
        off: head.type === "file" ? head.offset : null,
      });
    });
  }

  private async eachHeader(config: AppConfig, b: Backup, onEntry: (name: string, head: import("./tar-cursor").TarHead) => void): Promise<void> {
    const bytes = await openArchiveBytes(config, archivePath(config, b));
    const cursor = new TarCursor(bytes, null, b.filename);
    const apply = this.sqlite.transaction((items: Array<[string, import("./tar-cursor").TarHead]>) => {
      for (const [name, head] of items) onEntry(name, head);
    });
    try {
      let pendingItems: Array<[string, import("./tar-cursor").TarHead]> = [];
      for (let head = await cursor.nextHeader(); head; head = await cursor.nextHeader()) {
        if (head.name.startsWith("backup/")) pendingItems.push([head.name.slice("backup/".length), head]);
        await cursor.skipBody(head.type === "file" || head.type === "other" ? head.size : 0);
        if (pendingItems.length >= 1000) {
          apply(pendingItems);
          pendingItems = [];
        }
      }
      apply(pendingItems);
    } finally {
      await cursor.close();
      await bytes.close();
    }
  }
}
