/**
 * The browse API's one zod contract (snake_case, as the rest of the backup API): validated by
 * the tRPC procedures and the REST routes, and turned into the OpenAPI document. The mappers
 * turn the engine's results into it, field by field, so nothing leaks by accident.
 */
import { z } from "zod";
import { backupIdSchema } from "../contract";
import type { DiffEntry, FolderDiff, FolderPage, UserFolder } from "./browse";
import { MAX_PAGE } from "./browse";
import { MAX_REQUEST_PATH_BYTES } from "./paths";
import { MAX_SELECTED_PATHS, type RestorePathsPlan, type RestorePathsResult } from "./restore-paths";
import type { TreeEntry } from "./tree-index";

/** An archive path ("files/alice/a.txt"; "" = the top). Its shape is checked by the engine (paths.ts), which says what is wrong. */
export const archivePathSchema = z.string().max(MAX_REQUEST_PATH_BYTES, `A path is at most ${MAX_REQUEST_PATH_BYTES} bytes`);

export const browseListInput = z.object({
  backup_id: backupIdSchema,
  path: archivePathSchema.default(""),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(200),
});

export const browseSearchInput = z.object({
  backup_id: backupIdSchema,
  query: z.string().min(1, "Type some text to search for").max(500),
  under: archivePathSchema.default(""),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(200),
});

export const browsePathInput = z.object({ backup_id: backupIdSchema, path: archivePathSchema.default("") });

export const browseDiffInput = browsePathInput.extend({
  hash: z
    .union([z.boolean(), z.enum(["1", "0", "true", "false"]).transform((v) => v === "1" || v === "true")])
    .default(false)
    .describe("compare files of the same size but another modification time by SHA-256 (reads them)"),
});

export const treeEntrySchema = z.object({
  path: z.string(),
  name: z.string(),
  type: z.enum(["file", "dir", "symlink"]),
  size: z.number(),
  mtime: z.number().nullable().describe("milliseconds since the epoch; null for a part's top folder"),
  mode: z.number().nullable(),
  sha256: z.string().nullable().describe("null for archives without our manifest"),
  link_target: z.string().nullable(),
});

export const folderPageSchema = z.object({
  backup_id: z.number(),
  path: z.string(),
  entries: z.array(treeEntrySchema),
  total: z.number().describe("children of the folder in all pages"),
  offset: z.number(),
  checksums: z.boolean(),
});

export const searchResultSchema = z.object({ backup_id: z.number(), query: z.string(), entries: z.array(treeEntrySchema) });

const side = z.object({ size: z.number(), mtime: z.number().nullable() }).nullable();
export const folderDiffSchema = z.object({
  backup_id: z.number(),
  path: z.string(),
  live_exists: z.boolean(),
  entries: z.array(
    z.object({
      name: z.string(),
      path: z.string(),
      type: z.enum(["file", "dir", "symlink"]),
      status: z.enum(["same", "changed", "added", "deleted"]).describe("added: only live (new since the backup); deleted: only in the backup"),
      backup: side,
      live: side,
    }),
  ),
  counts: z.object({ same: z.number(), changed: z.number(), added: z.number(), deleted: z.number() }),
  truncated: z.boolean(),
});

export const userFoldersSchema = z.object({
  backup_id: z.number(),
  users: z.array(z.object({ username: z.string(), path: z.string(), files: z.number(), bytes: z.number() })),
});

export const restorePathsPlanInput = z.object({
  backup_id: backupIdSchema,
  paths: z.array(archivePathSchema).min(1, "Choose at least one file or folder").max(MAX_SELECTED_PATHS, `At most ${MAX_SELECTED_PATHS} paths at once`),
  destination: z.enum(["original", "folder"]).default("original"),
  folder: z.string().max(MAX_REQUEST_PATH_BYTES).optional().describe('destination "folder": a folder inside the storage (default restored/<backup name>)'),
  overwrite: z.boolean().default(false).describe('destination "original": replace current versions instead of keeping them as "name (before restore DATE).ext"'),
});

export const restorePathsInput = restorePathsPlanInput.extend({
  confirm: z.literal(true, { error: "Confirm the restore (confirm: true)" }),
});

const planFields = {
  backup_id: z.number(),
  paths: z.array(z.string()),
  destination: z.enum(["original", "folder"]),
  root: z.string().describe('storage-relative folder the paths are restored below ("" = where they were)'),
  files: z.number(),
  folders: z.number(),
  links: z.number(),
  bytes: z.number(),
  overwrite_count: z.number(),
  unchanged_count: z.number(),
  free_bytes: z.number(),
};

export const restorePathsPlanSchema = z.object({
  ...planFields,
  overwrites: z.array(
    z.object({
      path: z.string(),
      target: z.string(),
      live: z.object({ type: z.enum(["file", "dir", "symlink", "other"]), size: z.number(), mtime: z.number() }),
      backup: z.object({ size: z.number(), mtime: z.number().nullable() }),
      newer: z.boolean(),
      kept_as: z.string().nullable(),
    }),
  ),
});

export const restorePathsResultSchema = z.object({
  ...planFields,
  restored_files: z.number(),
  kept: z.array(z.object({ target: z.string(), kept_as: z.string() })),
  kept_count: z.number(),
  duration_ms: z.number(),
});

export function toTreeEntry(e: TreeEntry): z.infer<typeof treeEntrySchema> {
  return { path: e.path, name: e.name, type: e.type, size: e.size, mtime: e.mtime, mode: e.mode, sha256: e.sha256, link_target: e.linkTarget };
}

export function toFolderPage(id: number, p: FolderPage): z.infer<typeof folderPageSchema> {
  return { backup_id: id, path: p.path, entries: p.entries.map(toTreeEntry), total: p.total, offset: p.offset, checksums: p.checksums };
}

export function toFolderDiff(id: number, d: FolderDiff): z.infer<typeof folderDiffSchema> {
  const entry = (e: DiffEntry) => ({ name: e.name, path: e.path, type: e.type, status: e.status, backup: e.backup, live: e.live });
  return { backup_id: id, path: d.path, live_exists: d.liveExists, entries: d.entries.map(entry), counts: d.counts, truncated: d.truncated };
}

export function toUserFolders(id: number, users: UserFolder[]): z.infer<typeof userFoldersSchema> {
  return { backup_id: id, users: users.map((u) => ({ username: u.username, path: u.path, files: u.files, bytes: u.bytes })) };
}

function planCommon(p: Omit<RestorePathsPlan, "overwrites">) {
  return {
    backup_id: p.backupId,
    paths: p.paths,
    destination: p.destination,
    root: p.root,
    files: p.files,
    folders: p.folders,
    links: p.links,
    bytes: p.bytes,
    overwrite_count: p.overwriteCount,
    unchanged_count: p.unchangedCount,
    free_bytes: p.freeBytes,
  };
}

export function toRestorePathsPlan(p: RestorePathsPlan): z.infer<typeof restorePathsPlanSchema> {
  return {
    ...planCommon(p),
    overwrites: p.overwrites.map((o) => ({ path: o.path, target: o.target, live: o.live, backup: o.backup, newer: o.newer, kept_as: o.keptAs })),
  };
}

export function toRestorePathsResult(r: RestorePathsResult): z.infer<typeof restorePathsResultSchema> {
  return {
    ...planCommon(r),
    restored_files: r.restoredFiles,
    kept: r.kept.map((k) => ({ target: k.target, kept_as: k.keptAs })),
    kept_count: r.keptCount,
    duration_ms: r.durationMs,
  };
}

/** The engine's request from the contract's input. */
export function toRestoreRequest(input: z.infer<typeof restorePathsPlanInput>) {
  return { id: input.backup_id, paths: input.paths, destination: input.destination, folder: input.folder, overwrite: input.overwrite };
}
