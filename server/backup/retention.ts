/**
 * Retention: keeps at most `max count` completed backups (newest first) and none older
 * than `retention days`, with three exceptions that protect restores: the newest completed
 * backup is always kept, every backup a kept incremental builds on is kept (a chain is
 * only restorable whole), and running backups are never touched. Failed rows older than
 * the retention period are removed too (they have no archive). Runs after each successful
 * backup and at start-up; each deletion is audited as done by the system.
 */
import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import type { AppDatabase } from "@/db/client";
import { backups, type Backup } from "@/db/schema";
import { recordAudit, SYSTEM_ACTOR } from "../audit";
import type { AppConfig } from "../config";
import { describeError } from "../errors";
import { INCOMING_PREFIX, listBackupRows, MANIFEST_DIR, PARTIAL_SUFFIX, removeBackupFiles, STAGING_PREFIX } from "./catalog";
import { incomingOwner } from "./import";
import { isOwnerAlive, LOCK_FILENAME } from "./lock";
import { getRetentionSettings } from "./settings";

const DAY_MS = 24 * 60 * 60 * 1000;

export interface RetentionPlan {
  keep: Backup[];
  remove: Backup[];
}

/** Decides what retention deletes, without touching anything. */
export function planRetention(rows: Backup[], rules: { maxCount: number; retentionDays: number }, now = Date.now()): RetentionPlan {
  const byId = new Map(rows.map((r) => [r.id, r]));
  const cutoff = now - rules.retentionDays * DAY_MS;
  const completed = rows
    .filter((r) => r.status === "completed")
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.id - a.id);

  const kept = new Set<number>();
  completed.forEach((row, index) => {
    if (index === 0 || (index < rules.maxCount && row.createdAt.getTime() >= cutoff)) kept.add(row.id);
  });
  for (const row of rows) if (row.status === "in_progress") kept.add(row.id);
  // A kept incremental needs its whole chain back to the full backup.
  for (const id of [...kept]) {
    let parentId = byId.get(id)?.parentId ?? null;
    while (parentId !== null && !kept.has(parentId)) {
      kept.add(parentId);
      parentId = byId.get(parentId)?.parentId ?? null;
    }
  }
  const remove = rows.filter(
    (r) => !kept.has(r.id) && (r.status === "completed" || (r.status === "failed" && r.createdAt.getTime() < cutoff)),
  );
  return { keep: rows.filter((r) => kept.has(r.id)), remove };
}

export interface RetentionResult {
  deleted: Array<{ id: number; filename: string }>;
  sweptFiles: string[];
}

/**
 * Applies retention. `sweep` also removes stray temporary files and orphaned manifest
 * copies; only pass it when no backup or restore can be writing (the caller holds the
 * operation lock, or none is held).
 */
export async function applyRetention(opts: {
  db: AppDatabase;
  config: AppConfig;
  sweep: boolean;
  now?: number;
}): Promise<RetentionResult> {
  const { db, config } = opts;
  const rules = getRetentionSettings(db, config);
  const plan = planRetention(listBackupRows(db), rules, opts.now);
  const deleted: RetentionResult["deleted"] = [];
  for (const row of plan.remove) {
    try {
      db.delete(backups).where(eq(backups.id, row.id)).run();
      await removeBackupFiles(config, row);
      deleted.push({ id: row.id, filename: row.filename });
      recordAudit(db, {
        action: "backup.retention_delete",
        actor: SYSTEM_ACTOR,
        resource: `backup:${row.id}`,
        success: true,
        details: { filename: row.filename, status: row.status, max_count: rules.maxCount, retention_days: rules.retentionDays },
      });
    } catch (err) {
      recordAudit(db, {
        action: "backup.retention_delete",
        actor: SYSTEM_ACTOR,
        resource: `backup:${row.id}`,
        success: false,
        errorMessage: describeError(err),
        details: { filename: row.filename },
      });
    }
  }
  const sweptFiles = opts.sweep ? await sweepStrayFiles(db, config) : [];
  return { deleted, sweptFiles };
}

/** Temporary archives, staging folders and manifest copies that no row accounts for. */
export async function sweepStrayFiles(db: AppDatabase, config: AppConfig): Promise<string[]> {
  const swept: string[] = [];
  let names: string[];
  try {
    names = await fs.promises.readdir(config.backupPath);
  } catch {
    return swept;
  }
  for (const name of names) {
    const lockLeftover = name.startsWith(`${LOCK_FILENAME}.`) && (name.endsWith(".new") || name.endsWith(".stale"));
    if (name.startsWith(INCOMING_PREFIX)) {
      // Uploads and imports run outside the operation lock: their files are removed only once
      // the process that writes them is gone. The name says which one (pid and start time);
      // for a name without one (an older version's), only one that stopped growing long ago is a leftover.
      const owner = incomingOwner(name);
      if (owner && isOwnerAlive(owner)) continue;
      if (!owner) {
        const stat = await fs.promises.stat(path.join(config.backupPath, name)).catch(() => null);
        if (!stat || Date.now() - stat.mtimeMs < 60 * 60 * 1000) continue;
      }
    }
    if (name.endsWith(PARTIAL_SUFFIX) || name.startsWith(STAGING_PREFIX) || lockLeftover) {
      await fs.promises.rm(path.join(config.backupPath, name), { recursive: true, force: true });
      swept.push(name);
    }
  }
  const known = new Set(listBackupRows(db).map((r) => `${r.filename}.json`));
  const manifestDir = path.join(config.backupPath, MANIFEST_DIR);
  for (const name of await fs.promises.readdir(manifestDir).catch(() => [] as string[])) {
    if (!known.has(name)) {
      await fs.promises.rm(path.join(manifestDir, name), { force: true });
      swept.push(`${MANIFEST_DIR}/${name}`);
    }
  }
  return swept;
}
