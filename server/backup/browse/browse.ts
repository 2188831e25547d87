/**
 * Browsing a backup: its tree as of that backup (through its chain), one folder page at a
 * time, a search over paths, a comparison of one folder with the live data, and reading one
 * file or a whole folder (as a .tar.gz built on the fly) straight out of the archives.
 *
 * Every function takes the backup id and archive paths checked by paths.ts; a path must be
 * in the backup's index to be used. Memory does not grow with the size of the backup: the
 * index is a file (tree-index.ts), pages are bounded, bodies stream.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import zlib from "node:zlib";
import type { AppDatabase } from "@/db/client";
import { users } from "@/db/schema";
import { recordAudit, type Actor } from "../../audit";
import type { AppConfig } from "../../config";
import { AppError } from "../../errors";
import { ArchiveError } from "../archive/errors";
import { encodeTarHeader, endOfArchive, padded } from "../archive/tar-header";
import { getBackupRow } from "../catalog";
import { WORK_DIR } from "../restore/journal";
import { checkRequestPath, livePart } from "./paths";
import { ChainReaders } from "./read-files";
import { openTreeIndex, type TreeEntry, type TreeIndex } from "./tree-index";

export interface BrowseContext {
  db: AppDatabase;
  config: AppConfig;
}

/** Reading content out of a backup is audited (who, which backup, which path); listing is not. */
function auditRead(ctx: BrowseContext & { actor?: Actor; id: number }, what: "file" | "folder", p: string, bytes: number): void {
  if (!ctx.actor) return;
  recordAudit(ctx.db, { action: "backup.download_path", actor: ctx.actor, resource: `backup:${ctx.id}`, success: true, details: { path: p, kind: what, size_bytes: bytes } });
}

export const DEFAULT_PAGE = 200;
export const MAX_PAGE = 1000;

/** The index of backup `id`, for `use`; closed afterwards (also on errors). */
export async function withTreeIndex<T>(ctx: BrowseContext, id: number, use: (index: TreeIndex) => T | Promise<T>): Promise<T> {
  const row = getBackupRow(ctx.db, id);
  const index = await openTreeIndex({ ...ctx, row });
  try {
    return await use(index);
  } catch (err) {
    throw asAppError(err);
  } finally {
    index.close();
  }
}

export function asAppError(err: unknown): unknown {
  return err instanceof ArchiveError ? new AppError("ARCHIVE_INVALID", err.message, { cause: err }) : err;
}

/** The entry at `p`, or NOT_FOUND naming the path and the backup. */
export function entryOrNotFound(index: TreeIndex, p: string): TreeEntry {
  const e = p === "" ? rootEntry() : index.get(p);
  if (!e) throw new AppError("NOT_FOUND", `"${p}" is not in backup ${index.backupId}.`);
  return e;
}

function rootEntry(): TreeEntry {
  return { path: "", name: "", type: "dir", size: 0, mtime: null, mode: null, sha256: null, linkTarget: null, src: null, off: null };
}

export interface FolderPage {
  path: string;
  entries: TreeEntry[];
  total: number;
  offset: number;
  /** Whether the files have checksums (false: an archive without our manifest). */
  checksums: boolean;
}

export async function listBackupFolder(ctx: BrowseContext & { id: number; path: string; offset?: number; limit?: number }): Promise<FolderPage> {
  const p = checkRequestPath(ctx.path);
  const offset = Math.max(0, Math.floor(ctx.offset ?? 0));
  const limit = Math.min(MAX_PAGE, Math.max(1, Math.floor(ctx.limit ?? DEFAULT_PAGE)));
  return withTreeIndex(ctx, ctx.id, (index) => {
    const self = entryOrNotFound(index, p);
    if (self.type !== "dir") throw new AppError("BAD_REQUEST", `"${p}" is a ${self.type === "file" ? "file" : "link"}, not a folder.`);
    const { entries, total } = index.list(p, offset, limit);
    return { path: p, entries, total, offset, checksums: index.hasChecksums };
  });
}

export async function searchBackup(ctx: BrowseContext & { id: number; query: string; under?: string; limit?: number }): Promise<TreeEntry[]> {
  const q = ctx.query.trim();
  if (q === "" || q.includes("\0")) throw new AppError("BAD_REQUEST", "Type some text to search for.");
  const under = checkRequestPath(ctx.under ?? "");
  const limit = Math.min(MAX_PAGE, Math.max(1, Math.floor(ctx.limit ?? DEFAULT_PAGE)));
  return withTreeIndex(ctx, ctx.id, (index) => index.search(q, limit, under));
}

export async function statBackupPath(ctx: BrowseContext & { id: number; path: string }): Promise<TreeEntry & { files: number; bytes: number; folders: number }> {
  const p = checkRequestPath(ctx.path);
  return withTreeIndex(ctx, ctx.id, (index) => ({ ...entryOrNotFound(index, p), ...index.totals(p) }));
}

// ---------------------------------------------------------------------------------------------
// Comparison with the live data

export type DiffStatus = "same" | "changed" | "added" | "deleted";

export interface DiffEntry {
  name: string;
  path: string;
  type: "file" | "dir" | "symlink";
  /** added: only live (new since the backup); deleted: only in the backup; changed: size or time (or type) differ. */
  status: DiffStatus;
  backup: { size: number; mtime: number | null } | null;
  live: { size: number; mtime: number } | null;
}

export interface FolderDiff {
  path: string;
  /** False when the folder's part has no live tree (the database) or the live folder is missing. */
  liveExists: boolean;
  entries: DiffEntry[];
  counts: Record<DiffStatus, number>;
  /** Entries left out of `entries` past the limit (counts still cover all). */
  truncated: boolean;
}

/** The live folder `p` stands for, or null when it is not a real folder (missing, a link on the way, or no live part). */
export async function liveFolder(config: AppConfig, p: string): Promise<string | null> {
  const part = livePart(p);
  if (!part) return null;
  const root = part.part === "files" ? config.storagePath : config.configPath;
  let dir = root;
  for (const seg of part.rel === "" ? [] : part.rel.split("/")) {
    dir = path.join(dir, seg);
    const st = await fs.promises.lstat(dir).catch(() => null);
    if (!st || !st.isDirectory()) return null;
  }
  return dir;
}

/** SHA-256 of a live file, read as a stream. */
export async function liveFileHash(file: string): Promise<string> {
  const hash = crypto.createHash("sha256");
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * Compares one folder of the backup with the same folder in the live data: size and
 * modification time, and with `hash` a file of the same size whose time differs is read and
 * compared by SHA-256 (a file only touched is then the same).
 */
export async function diffBackupFolder(ctx: BrowseContext & { id: number; path: string; limit?: number; hash?: boolean }): Promise<FolderDiff> {
  const p = checkRequestPath(ctx.path);
  const limit = Math.min(5000, Math.max(1, Math.floor(ctx.limit ?? 2000)));
  const dir = await liveFolder(ctx.config, p);
  const live = new Map<string, fs.Stats>();
  if (dir) {
    for (const name of await fs.promises.readdir(dir)) {
      if (p === "files" && name === WORK_DIR) continue;
      const st = await fs.promises.lstat(path.join(dir, name)).catch(() => null);
      if (st && (st.isFile() || st.isDirectory() || st.isSymbolicLink())) live.set(name, st);
    }
  }
  const kind = (st: fs.Stats): DiffEntry["type"] => (st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : "file");
  return withTreeIndex(ctx, ctx.id, async (index) => {
    const self = entryOrNotFound(index, p);
    if (self.type !== "dir") throw new AppError("BAD_REQUEST", `"${p}" is not a folder.`);
    const counts: Record<DiffStatus, number> = { same: 0, changed: 0, added: 0, deleted: 0 };
    const entries: DiffEntry[] = [];
    const add = (e: DiffEntry) => {
      counts[e.status]++;
      if (entries.length < limit && e.status !== "same") entries.push(e);
    };
    for (let offset = 0; ; offset += MAX_PAGE) {
      const page = index.list(p, offset, MAX_PAGE);
      for (const b of page.entries) {
        const st = dir ? live.get(b.name) : undefined;
        live.delete(b.name);
        const backupSide = { size: b.size, mtime: b.mtime };
        if (!st) {
          add({ name: b.name, path: b.path, type: b.type, status: "deleted", backup: backupSide, live: null });
          continue;
        }
        const liveSide = { size: st.isFile() ? st.size : 0, mtime: st.mtimeMs };
        let same =
          kind(st) === b.type &&
          (b.type !== "file" || (st.size === b.size && b.mtime !== null && Math.floor(st.mtimeMs) === Math.floor(b.mtime)));
        if (!same && ctx.hash && dir && b.type === "file" && st.isFile() && st.size === b.size && b.sha256) {
          same = (await liveFileHash(path.join(dir, b.name))) === b.sha256;
        }
        add({ name: b.name, path: b.path, type: b.type, status: same ? "same" : "changed", backup: backupSide, live: liveSide });
      }
      if (offset + MAX_PAGE >= page.total) break;
    }
    for (const [name, st] of live) {
      add({ name, path: p === "" ? name : `${p}/${name}`, type: kind(st), status: "added", backup: null, live: { size: st.isFile() ? st.size : 0, mtime: st.mtimeMs } });
    }
    return { path: p, liveExists: dir !== null, entries, counts, truncated: entries.length < counts.changed + counts.added + counts.deleted };
  });
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface BackupFileStream {
  entry: TreeEntry;
  /** The file's bytes; errors (ARCHIVE_INVALID) if the archive does not match the manifest. */
  stream: Readable;
}

/** One file of a backup, streamed out of the archive that holds it. */
export async function openBackupFile(ctx: BrowseContext & { id: number; path: string; actor?: Actor }): Promise<BackupFileStream> {
  const p = checkRequestPath(ctx.path);
  const row = getBackupRow(ctx.db, ctx.id);
  const index = await openTreeIndex({ ...ctx, row });
  let entry: TreeEntry;
  let sources;
  try {
    entry = entryOrNotFound(index, p);
    sources = index.sources();
  } finally {
    index.close();
  }
  if (entry.type !== "file") throw new AppError("BAD_REQUEST", `"${p}" is a ${entry.type === "dir" ? "folder" : "link"}; download a folder as an archive.`);
  const readers = new ChainReaders(ctx.config, sources);
  const reader = await readers.reader(entry.src!).catch(async (err) => {
    await readers.close();
    throw asAppError(err);
  });
  auditRead(ctx, "file", p, entry.size);
  let started = false;
  const body = (async function* () {
    started = true;
    try {
      yield* reader.read(entry);
    } catch (err) {
      throw asAppError(err);
    } finally {
      await readers.close();
    }
  })();
  const stream = Readable.from(body, { objectMode: false });
  // A stream destroyed before its first read never runs the generator's finally.
  stream.on("close", () => {
    if (!started) void readers.close();
  });
  return { entry, stream };
}

/**
 * A folder of a backup as a .tar.gz stream, entries named from the folder down ("docs/…" for
 * files/alice/docs): folders and links first, then the files archive by archive in the order
 * they are stored (one forward pass per archive).
 */
export async function openBackupFolderArchive(ctx: BrowseContext & { id: number; path: string; actor?: Actor }): Promise<{ entry: TreeEntry; stream: Readable; name: string }> {
  const p = checkRequestPath(ctx.path);
  const row = getBackupRow(ctx.db, ctx.id);
  const index = await openTreeIndex({ ...ctx, row });
  let entry: TreeEntry;
  try {
    entry = entryOrNotFound(index, p);
    if (entry.type !== "dir") throw new AppError("BAD_REQUEST", `"${p}" is not a folder; download it as a file.`);
  } catch (err) {
    index.close();
    throw err;
  }
  const base = p === "" ? "" : p.slice(0, p.lastIndexOf("/") + 1);
  const top = p === "" ? row.filename.replace(/\.tar\.gz$/, "") : entry.name;
  const nameOf = (e: TreeEntry) => (p === "" ? `${top}/${e.path}` : e.path.slice(base.length));
  const readers = new ChainReaders(ctx.config, index.sources());
  auditRead(ctx, "folder", p, index.totals(p).bytes);
  let started = false;
  const tar = (async function* (): AsyncGenerator<Buffer> {
    started = true;
    try {
      if (p === "") yield encodeTarHeader({ path: top, type: "dir", size: 0, mode: 0o755, mtimeMs: Date.now() });
      for (const e of index.subtree(p)) {
        if (e.type === "file") continue;
        yield encodeTarHeader({
          path: nameOf(e),
          type: e.type,
          size: 0,
          mode: e.mode ?? (e.type === "dir" ? 0o755 : 0o777),
          mtimeMs: e.mtime ?? Date.now(),
          linkTarget: e.linkTarget ?? undefined,
        });
      }
      for (const s of index.sources()) {
        const reader = await readers.reader(s.id);
        for (const e of index.filesIn(p, s.id)) {
          yield encodeTarHeader({ path: nameOf(e), type: "file", size: e.size, mode: e.mode ?? 0o644, mtimeMs: e.mtime ?? Date.now() });
          for await (const chunk of reader.read(e)) yield chunk;
          if (padded(e.size) > e.size) yield Buffer.alloc(padded(e.size) - e.size);
        }
      }
      yield endOfArchive();
    } catch (err) {
      throw asAppError(err);
    } finally {
      await readers.close();
      index.close();
    }
  })();
  const gzip = zlib.createGzip({ level: 1 });
  const source = Readable.from(tar, { objectMode: false });
  source.on("error", (err) => gzip.destroy(err));
  gzip.on("close", () => source.destroy());
  source.on("close", () => {
    if (started) return;
    void readers.close();
    index.close();
  });
  return { entry, stream: source.pipe(gzip), name: `${top}.tar.gz` };
}

// ---------------------------------------------------------------------------------------------
// Per-user storage

export interface UserFolder {
  username: string;
  /** "files/<username>" */
  path: string;
  files: number;
  bytes: number;
}

/**
 * The storage folders of the backup that belong to a user of this installation
 * (`files/<username>`): restoring one of them is "restore this user's files".
 */
export async function listUserFolders(ctx: BrowseContext & { id: number }): Promise<UserFolder[]> {
  const names = ctx.db.select({ username: users.username }).from(users).orderBy(users.username).all().map((u) => u.username);
  return withTreeIndex(ctx, ctx.id, (index) =>
    names.flatMap((username) => {
      const p = `files/${username}`;
      if (username.includes("/") || index.get(p)?.type !== "dir") return [];
      const t = index.totals(p);
      return [{ username, path: p, files: t.files, bytes: t.bytes }];
    }),
  );
}
