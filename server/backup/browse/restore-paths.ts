/**
 * Restoring selected paths of a backup's storage (`files/…`): to where they were, or into a
 * folder inside the storage (`restored/backup_…/…` by default). Everything not selected is
 * left exactly as it is.
 *
 * The same safety rules as a full restore, per file:
 * - the operation lock (one backup or restore at a time; 409 otherwise);
 * - staging on the storage's own volume (`<storage>/.baluhost-restore/paths-…`, under numbered
 *   names, so no name from the archive is used before it is placed), every body checked
 *   against its manifest size and SHA-256 while it is staged, then fsynced;
 * - only paths in the backup's index are used; each is placed below the destination root by
 *   walking real folders (a symlink or file in the way is set aside, never followed);
 * - each file goes in with one rename (atomic); a live file it replaces that differs is kept
 *   beside it as `name (before restore YYYY-MM-DD).ext` (unless the admin chose to
 *   overwrite), a folder or link in the way always: the restore can be undone by hand, so no
 *   safety backup of everything is needed;
 * - an audit entry lists the paths.
 * If staging fails, the live data has not been touched.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Actor } from "../../audit";
import { recordAudit } from "../../audit";
import { formatBytes } from "@/lib/format";
import { AppError } from "../../errors";
import { linkTargetProblem } from "../archive/link-policy";
import { getBackupRow } from "../catalog";
import { fsyncDir, freeBytes } from "../fs-safe";
import { acquireOperationLock } from "../lock";
import { WORK_DIR } from "../restore/journal";
import { asAppError, liveFileHash, type BrowseContext } from "./browse";
import { checkRequestPath } from "./paths";
import { ChainReaders } from "./read-files";
import { openTreeIndex, type TreeEntry, type TreeIndex } from "./tree-index";

export const MAX_SELECTED_PATHS = 1000;
/** Overwrites listed one by one in a plan (the count covers all). */
const PLAN_LISTED = 500;

export interface RestorePathsRequest {
  id: number;
  paths: string[];
  /** "original": where they were; "folder": below `folder` in the storage. */
  destination: "original" | "folder";
  /** Storage-relative folder for destination "folder"; default `restored/<backup name>`. */
  folder?: string;
  /** Replace differing live files instead of keeping them as "… (before restore DATE)". */
  overwrite?: boolean;
}

export interface PlannedOverwrite {
  /** Archive path of the file being restored. */
  path: string;
  /** Where it goes, relative to the storage folder. */
  target: string;
  live: { type: "file" | "dir" | "symlink" | "other"; size: number; mtime: number };
  backup: { size: number; mtime: number | null };
  /** The live version is newer than the backup's. */
  newer: boolean;
  /** The name the live version is kept under, or null when it is overwritten. */
  keptAs: string | null;
}

export interface RestorePathsPlan {
  backupId: number;
  paths: string[];
  destination: "original" | "folder";
  /** Storage-relative root the paths are restored below ("" = the storage itself). */
  root: string;
  files: number;
  folders: number;
  links: number;
  bytes: number;
  /** Live files (or folders/links) that would be replaced, first PLAN_LISTED of them. */
  overwrites: PlannedOverwrite[];
  overwriteCount: number;
  /** Files already identical in the live data (left alone). */
  unchangedCount: number;
  freeBytes: number;
}

export interface RestorePathsResult extends Omit<RestorePathsPlan, "overwrites"> {
  restoredFiles: number;
  kept: Array<{ target: string; keptAs: string }>;
  keptCount: number;
  durationMs: number;
}

interface Selection {
  row: ReturnType<typeof getBackupRow>;
  index: TreeIndex;
  paths: string[];
  /** Absolute destination root and its storage-relative form. */
  rootAbs: string;
  root: string;
  overwrite: boolean;
}

/** Checks the request and opens the index; the caller closes `index`. */
async function select(ctx: BrowseContext, req: RestorePathsRequest): Promise<Selection> {
  if (!Array.isArray(req.paths) || req.paths.length === 0) throw new AppError("BAD_REQUEST", "Choose at least one file or folder to restore.");
  if (req.paths.length > MAX_SELECTED_PATHS) throw new AppError("BAD_REQUEST", `Choose at most ${MAX_SELECTED_PATHS} paths at once (a folder counts as one).`);
  const checked = [...new Set(req.paths.map(checkRequestPath))].sort();
  for (const p of checked) {
    if (p !== "files" && !p.startsWith("files/")) {
      throw new AppError("BAD_REQUEST", `"${p}" is not in the storage (files/…). Only storage files can be restored one by one; restore the database or config with a full restore.`);
    }
  }
  // A path inside another selected folder is already covered.
  const paths = checked.filter((p) => !checked.some((q) => q !== p && (q === "files" || p.startsWith(`${q}/`))));
  const row = getBackupRow(ctx.db, req.id);
  let root = "";
  if (req.destination === "folder") {
    root = checkRequestPath(req.folder?.trim() || `restored/${row.filename.replace(/\.tar\.gz$/, "")}`);
    if (root === "") throw new AppError("BAD_REQUEST", "Name a folder inside the storage to restore into, like restored/old-files.");
    if (root.split("/")[0] === WORK_DIR) throw new AppError("BAD_REQUEST", `${WORK_DIR} is BaluHost's own work folder; choose another folder.`);
  } else if (req.destination !== "original") {
    throw new AppError("BAD_REQUEST", 'The destination is "original" or "folder".');
  }
  const index = await openTreeIndex({ ...ctx, row });
  try {
    for (const p of paths) if (!index.get(p)) throw new AppError("NOT_FOUND", `"${p}" is not in backup ${row.id}.`);
  } catch (err) {
    index.close();
    throw err;
  }
  return { row, index, paths, root, rootAbs: path.join(ctx.config.storagePath, root), overwrite: req.destination === "original" && req.overwrite === true };
}

/** Where an entry goes, relative to the storage; refuses what the index should never hold. */
function targetOf(sel: Selection, e: TreeEntry): string {
  const rel = e.path === "files" ? "" : e.path.slice("files/".length);
  for (const seg of rel.split("/")) {
    if (seg === ".." || seg === "." || seg.includes("\0") || seg.includes("\\")) {
      throw new AppError("ARCHIVE_INVALID", `Backup ${sel.row.id} lists the unsafe name "${e.path}"; it is not restored.`);
    }
  }
  if (sel.root === "" && rel.split("/")[0] === WORK_DIR) {
    throw new AppError("ARCHIVE_INVALID", `Backup ${sel.row.id} lists "${e.path}", BaluHost's own work folder; it is not restored.`);
  }
  return [sel.root, rel].filter(Boolean).join("/");
}

/** Every entry selected, in path order. */
function* selected(sel: Selection): Generator<TreeEntry> {
  for (const p of sel.paths) yield* sel.index.subtree(p);
}

/** Every selected file, archive by archive in stored order (the order they are staged in). */
function* selectedFiles(sel: Selection): Generator<TreeEntry> {
  for (const s of sel.index.sources()) for (const p of sel.paths) yield* sel.index.filesIn(p, s.id);
}

/** `name (before restore 2026-12-07).ext`, with " 2", " 3"… until the name is free. */
export async function keptName(file: string, today = new Date()): Promise<string> {
  const dir = path.dirname(file);
  const name = path.basename(file);
  const dot = name.lastIndexOf(".");
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
  const date = today.toISOString().slice(0, 10);
  for (let n = 1; n < 1000; n++) {
    const tag = ` (before restore ${date}${n === 1 ? "" : ` ${n}`})`;
    let base = stem;
    while (Buffer.byteLength(base + tag + ext) > 255 && base.length > 1) base = base.slice(0, -1);
    const candidate = path.join(dir, base + tag + ext);
    if (!(await fs.promises.lstat(candidate).catch(() => null))) return candidate;
  }
  throw new AppError("CONFLICT", `Too many earlier versions of ${name} are kept already; tidy them up and try again.`);
}

/** What restoring `req` would do, without touching anything. */
export async function planRestorePaths(ctx: BrowseContext & RestorePathsRequest): Promise<RestorePathsPlan> {
  const sel = await select(ctx, ctx);
  try {
    return await plan(ctx, sel);
  } catch (err) {
    throw asAppError(err);
  } finally {
    sel.index.close();
  }
}

async function plan(ctx: BrowseContext, sel: Selection): Promise<RestorePathsPlan> {
  const out: RestorePathsPlan = {
    backupId: sel.row.id,
    paths: sel.paths,
    destination: sel.root === "" ? "original" : "folder",
    root: sel.root,
    files: 0,
    folders: 0,
    links: 0,
    bytes: 0,
    overwrites: [],
    overwriteCount: 0,
    unchangedCount: 0,
    freeBytes: await freeBytes(ctx.config.storagePath),
  };
  for (const e of selected(sel)) {
    const target = targetOf(sel, e);
    if (e.type === "dir") out.folders++;
    else if (e.type === "symlink") out.links++;
    else {
      out.files++;
      out.bytes += e.size;
    }
    if (e.type === "dir") continue;
    const abs = path.join(ctx.config.storagePath, target);
    const st = await fs.promises.lstat(abs).catch(() => null);
    if (!st) continue;
    if (e.type === "file" && st.isFile() && st.size === e.size && e.sha256 && (await liveFileHash(abs)) === e.sha256) {
      out.unchangedCount++;
      continue;
    }
    out.overwriteCount++;
    if (out.overwrites.length < PLAN_LISTED) {
      const liveType = st.isFile() ? "file" : st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : "other";
      out.overwrites.push({
        path: e.path,
        target,
        live: { type: liveType, size: st.isFile() ? st.size : 0, mtime: st.mtimeMs },
        backup: { size: e.size, mtime: e.mtime },
        newer: e.mtime === null || st.mtimeMs > e.mtime,
        keptAs: sel.overwrite && liveType === "file" ? null : path.relative(ctx.config.storagePath, await keptName(abs)),
      });
    }
  }
  return out;
}

/** Restores the selected paths; see the module comment. */
export async function restorePaths(ctx: BrowseContext & RestorePathsRequest & { actor: Actor }): Promise<RestorePathsResult> {
  const started = Date.now();
  let sel: Selection | null = null;
  let lock: ReturnType<typeof acquireOperationLock> | null = null;
  let staging: string | null = null;
  const audit = (success: boolean, details: Record<string, unknown>, errorMessage?: string) =>
    recordAudit(ctx.db, {
      action: "backup.restore_paths",
      actor: ctx.actor,
      resource: `backup:${ctx.id}`,
      success,
      errorMessage,
      details: {
        filename: sel?.row.filename,
        paths: (sel?.paths ?? ctx.paths.map(String)).slice(0, 100),
        paths_count: sel?.paths.length ?? ctx.paths.length,
        destination: ctx.destination,
        root: sel?.root,
        overwrite: ctx.overwrite === true,
        ...details,
      },
    });
  try {
    // Taken before the first await: from the moment this is called, no other backup or restore starts.
    lock = acquireOperationLock(ctx.config.backupPath, "restore", `restoring selected paths of backup ${ctx.id}`);
    sel = await select(ctx, ctx);
    // Counts from the index (the plan's per-file look at the live data is done once, while placing).
    const summary = { ...summarize(sel), freeBytes: await freeBytes(ctx.config.storagePath) };
    if (summary.bytes + 64 * 1024 * 1024 > summary.freeBytes) {
      throw new AppError(
        "INSUFFICIENT_SPACE",
        `Restoring these paths needs ${formatBytes(summary.bytes)} of staging space on the storage volume but only ${formatBytes(summary.freeBytes)} is free. Free some space, then try again.`,
      );
    }
    staging = path.join(ctx.config.storagePath, WORK_DIR, `paths-${crypto.randomBytes(6).toString("hex")}`);
    await fs.promises.mkdir(staging, { recursive: true, mode: 0o700 });
    await stage(ctx, sel, staging);
    const placed = await place(ctx, sel, staging);
    const result: RestorePathsResult = { ...summary, ...placed, durationMs: Date.now() - started };
    audit(true, {
      files: result.files,
      bytes: result.bytes,
      restored_files: result.restoredFiles,
      unchanged: result.unchangedCount,
      kept: result.kept.slice(0, 50),
      kept_count: result.keptCount,
    });
    return result;
  } catch (err) {
    const e = asAppError(err);
    audit(false, {}, e instanceof AppError ? e.message : "The restore failed; see the server log.");
    if (!(e instanceof AppError)) console.error("[restore-paths] failed:", err);
    throw e;
  } finally {
    sel?.index.close();
    if (staging) await fs.promises.rm(staging, { recursive: true, force: true }).catch(() => undefined);
    lock?.release();
  }
}

/** Reads every selected file into staging (numbered names), checked and fsynced. */
async function stage(ctx: BrowseContext, sel: Selection, staging: string): Promise<void> {
  const readers = new ChainReaders(ctx.config, sel.index.sources());
  try {
    let n = 0;
    for (const e of selectedFiles(sel)) {
      targetOf(sel, e); // refuse unsafe names before anything is written
      const reader = await readers.reader(e.src!);
      const fh = await fs.promises.open(path.join(staging, String(n++)), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
      try {
        let written = 0;
        for await (const chunk of reader.read(e)) {
          await fh.write(chunk);
          written += chunk.length;
        }
        if (written !== e.size) throw new AppError("ARCHIVE_INVALID", `${e.path} came out of the archive with ${written} bytes instead of ${e.size}.`);
        await fh.chmod((e.mode ?? 0o644) & 0o777);
        if (e.mtime !== null) await fh.utimes(new Date(e.mtime), new Date(e.mtime));
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
  } finally {
    await readers.close();
  }
}

/**
 * Makes `rel` (storage-relative) a real folder, creating what is missing; anything else in
 * the way (a file, a link) is set aside, never followed.
 */
async function ensureFolder(storage: string, rel: string, kept: (from: string, to: string) => void): Promise<void> {
  let dir = storage;
  for (const seg of rel === "" ? [] : rel.split("/")) {
    dir = path.join(dir, seg);
    const st = await fs.promises.lstat(dir).catch(() => null);
    if (st?.isDirectory()) continue;
    if (st) {
      const aside = await keptName(dir);
      await fs.promises.rename(dir, aside);
      kept(dir, aside);
    }
    await fs.promises.mkdir(dir, { mode: 0o755 });
  }
}

/** What the selection holds, from the index alone. */
function summarize(sel: Selection): Omit<RestorePathsPlan, "overwrites" | "overwriteCount" | "unchangedCount" | "freeBytes"> {
  const out = { backupId: sel.row.id, paths: sel.paths, destination: sel.root === "" ? ("original" as const) : ("folder" as const), root: sel.root, files: 0, folders: 0, links: 0, bytes: 0 };
  for (const p of sel.paths) {
    const t = sel.index.totals(p);
    out.files += t.files;
    out.bytes += t.bytes;
    out.folders += t.folders;
  }
  for (const p of sel.paths) for (const e of sel.index.subtree(p)) if (e.type === "symlink") out.links++;
  return out;
}

async function place(
  ctx: BrowseContext,
  sel: Selection,
  staging: string,
): Promise<Pick<RestorePathsResult, "restoredFiles" | "kept" | "keptCount" | "overwriteCount" | "unchangedCount">> {
  const storage = ctx.config.storagePath;
  const kept: Array<{ target: string; keptAs: string }> = [];
  let keptCount = 0;
  const keep = (from: string, to: string) => {
    keptCount++;
    if (kept.length < 1000) kept.push({ target: path.relative(storage, from), keptAs: path.relative(storage, to) });
  };
  const dirty = new Set<string>();
  const flush = async () => {
    for (const d of dirty) await fsyncDir(d).catch(() => undefined);
    dirty.clear();
  };
  /** Puts `staged` at `abs`, keeping or replacing what is there. */
  let overwriteCount = 0;
  let unchangedCount = 0;
  const putInPlace = async (staged: string, abs: string, e: TreeEntry): Promise<boolean> => {
    const st = await fs.promises.lstat(abs).catch(() => null);
    if (st?.isFile() && e.type === "file" && st.size === e.size && e.sha256 && (await liveFileHash(abs)) === e.sha256) {
      await fs.promises.rm(staged);
      unchangedCount++;
      return false;
    }
    if (st) overwriteCount++;
    if (st && !(st.isFile() && sel.overwrite)) {
      const aside = await keptName(abs);
      await fs.promises.rename(abs, aside);
      keep(abs, aside);
    }
    await fs.promises.rename(staged, abs);
    dirty.add(path.dirname(abs));
    if (dirty.size >= 256) await flush();
    return true;
  };

  for (const e of selected(sel)) if (e.type === "dir") await ensureFolder(storage, targetOf(sel, e), keep);
  let restoredFiles = 0;
  let n = 0;
  for (const e of selectedFiles(sel)) {
    const target = targetOf(sel, e);
    await ensureFolder(storage, path.posix.dirname(target) === "." ? "" : path.posix.dirname(target), keep);
    if (await putInPlace(path.join(staging, String(n++)), path.join(storage, target), e)) restoredFiles++;
  }
  for (const e of selected(sel)) {
    if (e.type !== "symlink" || e.linkTarget === null) continue;
    const target = targetOf(sel, e);
    const depth = e.path.split("/").length - 2;
    if (linkTargetProblem(e.linkTarget, depth) !== null) continue; // the writer never stores such links; never recreate one
    await ensureFolder(storage, path.posix.dirname(target) === "." ? "" : path.posix.dirname(target), keep);
    const staged = path.join(staging, `link-${n++}`);
    await fs.promises.symlink(e.linkTarget, staged);
    const abs = path.join(storage, target);
    const st = await fs.promises.lstat(abs).catch(() => null);
    if (st?.isSymbolicLink() && (await fs.promises.readlink(abs)) === e.linkTarget) {
      await fs.promises.rm(staged);
      continue;
    }
    await putInPlace(staged, abs, e);
  }
  await flush();
  return { restoredFiles, kept, keptCount, overwriteCount, unchangedCount };
}
