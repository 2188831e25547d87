/**
 * What a restore will need before it starts: the safety backup it takes first (scoped to
 * exactly the parts being replaced: restoring a database-only backup saves the current
 * database, not every file) and the free space for that backup and the staged copy on each
 * volume. The restore dialog shows this before the admin types RESTORE; the restore itself
 * refuses with the same figures when they do not fit.
 */
import fs from "node:fs";
import { formatBytes } from "@/lib/format";
import type { AppConfig } from "../../config";
import { AppError } from "../../errors";
import { walkTreeBatches } from "../archive";
import type { CreateBackupInput } from "../contract";
import { freeBytes } from "../fs-safe";
import { databaseBytes } from "../service";
import type { RestoreParts } from "./restore";

/** The safety backup of a restore: the current state of exactly the parts it replaces. */
export function safetyBackupInput(parts: RestoreParts): CreateBackupInput {
  if (parts.database && parts.files) return { backup_type: "full", includes_config: parts.config, wait: true };
  if (parts.database) return { backup_type: "database_only", includes_config: parts.config, wait: true };
  if (parts.files) return { backup_type: "files_only", includes_config: parts.config, wait: true };
  return { backup_type: "config_only", wait: true };
}

export interface VolumeNeed {
  /** A folder on the volume (the storage or the backup folder). */
  path: string;
  /** What goes there: "the staged copy", "the safety backup". */
  holds: string[];
  neededBytes: number;
  freeBytes: number;
  enough: boolean;
}

export interface RestoreSpacePlan {
  safety: { input: CreateBackupInput; bytes: number };
  stagedBytes: number;
  volumes: VolumeNeed[];
  enough: boolean;
}

async function treeBytes(root: string): Promise<number> {
  let bytes = 0;
  if (!fs.existsSync(root)) return 0;
  for await (const batch of walkTreeBatches(root)) for (const e of batch) if (e.type === "file") bytes += e.size;
  return bytes;
}

/**
 * The space a restore needs: `stagedBytes` on the data volume for the staged copy, and on
 * the backup volume the safety backup (at most the live size of the parts it saves) plus
 * `backupFolderBytes` (a restore from a file keeps a copy of it there). One volume holding
 * both needs room for both.
 */
export async function planRestoreSpace(opts: {
  config: AppConfig;
  parts: RestoreParts;
  stagedBytes: number;
  backupFolderBytes?: number;
  freeSpace?: (dir: string) => Promise<number>;
}): Promise<RestoreSpacePlan> {
  const { config, parts, stagedBytes } = opts;
  const free = opts.freeSpace ?? freeBytes;
  const safetyBytes =
    (parts.database ? databaseBytes(config.databasePath) : 0) +
    (parts.files ? await treeBytes(config.storagePath) : 0) +
    (parts.config ? await treeBytes(config.configPath) : 0);

  const byDevice = new Map<number, VolumeNeed>();
  for (const [dir, bytes, what] of [
    [config.storagePath, stagedBytes, "the staged copy"],
    [config.backupPath, safetyBytes + (opts.backupFolderBytes ?? 0), "the safety backup"],
  ] as const) {
    const device = fs.statSync(dir).dev;
    const entry = byDevice.get(device) ?? { path: dir, holds: [], neededBytes: 16 * 1024 * 1024, freeBytes: 0, enough: false };
    entry.holds.push(what);
    entry.neededBytes += Math.ceil(bytes * 1.05);
    byDevice.set(device, entry);
  }
  const volumes = [...byDevice.values()];
  for (const v of volumes) {
    v.freeBytes = await free(v.path);
    v.enough = v.freeBytes >= v.neededBytes;
  }
  return {
    safety: { input: safetyBackupInput(parts), bytes: safetyBytes },
    stagedBytes,
    volumes,
    enough: volumes.every((v) => v.enough),
  };
}

/** Refuses a restore whose plan does not fit, naming the volume and both figures. */
export function assertSpace(plan: RestoreSpacePlan): void {
  for (const v of plan.volumes) {
    if (!v.enough) {
      throw new AppError(
        "INSUFFICIENT_SPACE",
        `Not enough free space to restore safely on the volume of ${v.path}: about ${formatBytes(v.neededBytes)} needed ` +
          `(${v.holds.join(" and ")}), ${formatBytes(v.freeBytes)} free. Free space or delete old backups, then try again.`,
      );
    }
  }
}
