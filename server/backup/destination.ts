/**
 * Where a new archive may go. The create request's `backup_path` (the real BaluHost's API
 * has it) may name the backup folder itself or a folder inside it, given as an absolute
 * path or relative to the backup folder; anything else (another folder, `..`, a symlink
 * leading out, the storage or config folder, our own dot-folders) is refused with a 400
 * that says where backups may go. What is kept is only the sub-folder ("" or "weekly/db"),
 * so the catalog can never be pointed at a file outside NAS_BACKUP_PATH.
 */
import fs from "node:fs";
import path from "node:path";
import type { AppConfig } from "../config";
import { AppError } from "../errors";

/** A folder name we accept inside the backup folder: no dot-folders (ours: .manifests, .staging-*), no separators. */
const SEGMENT = /^[\p{L}\p{N}_][\p{L}\p{N}_ .@+-]{0,99}$/u;
const MAX_DEPTH = 8;

const inside = (child: string, parent: string) => child === parent || child.startsWith(parent + path.sep);

function segmentsAreSafe(dir: string): boolean {
  const segments = dir.split("/");
  return segments.length <= MAX_DEPTH && segments.every((s) => SEGMENT.test(s) && !s.endsWith(".") && !s.endsWith(" "));
}

/** A stored archive folder, checked again at every use (a row is data, not trusted code). */
export function checkedArchiveDir(dir: string): string {
  if (dir === "") return "";
  if (!segmentsAreSafe(dir)) throw new AppError("INTERNAL", `Refusing to use the unexpected archive folder "${dir}".`);
  return dir;
}

function refusal(config: AppConfig, requested: string, why: string): AppError {
  return new AppError(
    "BAD_REQUEST",
    `backup_path "${requested}" ${why}. Backups may only be written to the backup folder (${config.backupPath}) ` +
      `or a folder inside it, such as "weekly" or "${path.join(config.backupPath, "weekly")}"; leave backup_path empty for the backup folder itself.`,
  );
}

async function realFolder(dir: string): Promise<string> {
  return fs.promises.realpath(dir).catch(() => path.resolve(dir));
}

/**
 * The sub-folder of the backup folder a request's backup_path names, created if missing.
 * Returns "" for an empty backup_path or the backup folder itself.
 */
export async function resolveBackupDestination(config: AppConfig, requested: string | undefined): Promise<string> {
  if (requested === undefined || requested.trim() === "") return "";
  if (/[\0-\x1f\\]/.test(requested)) throw refusal(config, requested, "contains control characters or backslashes");
  const root = path.resolve(config.backupPath);
  const target = path.resolve(root, requested);
  if (!inside(target, root)) throw refusal(config, requested, "is outside the backup folder");
  const relative = path.relative(root, target).split(path.sep).join("/");
  if (relative === "") return "";
  if (!segmentsAreSafe(relative)) {
    throw refusal(config, requested, "names a hidden folder or a folder name with characters that are not allowed");
  }
  for (const [name, dir] of [
    ["storage folder", config.storagePath],
    ["config folder", config.configPath],
  ] as const) {
    if (inside(target, path.resolve(dir))) throw refusal(config, requested, `is inside the ${name} (a restore replaces that folder)`);
  }
  await fs.promises.mkdir(target, { recursive: true, mode: 0o750 });
  // Symlinks are resolved only now that the folder exists: a folder reached through a
  // symbolic link is refused, wherever the link points (out of the backup folder or not).
  const [realRoot, realTarget] = await Promise.all([realFolder(root), realFolder(target)]);
  if (path.relative(realRoot, realTarget).split(path.sep).join("/") !== relative) {
    throw refusal(config, requested, "goes through a symbolic link");
  }
  for (const dir of [config.storagePath, config.configPath]) {
    if (inside(realTarget, await realFolder(dir))) throw refusal(config, requested, "leads into a folder a restore replaces");
  }
  return relative;
}
