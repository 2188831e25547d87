/**
 * Retention: decides which backups to delete, and deletes them. A backup is kept when any
 * rule keeps it:
 *   - it is among the newest `max count` completed backups AND younger than `retention days`;
 *   - it is the newest backup of one of the last N days / ISO weeks / months that have a
 *     backup (keep daily / weekly / monthly, "GFS"; off at 0; days in the server's zone);
 *   - it is the newest completed backup, or the newest one that is not damaged;
 *   - an admin protected (pinned) it;
 *   - a kept incremental builds on it (a chain is only restorable whole), or it is running.
 * Failed rows older than the retention period are removed too (they have no archive).
 * Ages count from when a backup arrived here (an upload of an old archive is new here).
 *
 * It runs after each successful backup, when an admin saves new rules (after seeing the
 * preview), and on the web server's timer (schedule/retention-timer.ts); never from
 * commands that have nothing to do with backups. Each deletion is audited as the system.
 */
import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import type { AppDatabase } from "@/db/client";
import { backups, type Backup } from "@/db/schema";
import { recordAudit, SYSTEM_ACTOR } from "../audit";
import type { AppConfig } from "../config";
import { AppError, describeError } from "../errors";
import { INCOMING_PREFIX, isCatalogSidecar, listBackupRows, MANIFEST_DIR, PARTIAL_SUFFIX, removeBackupFiles, STAGING_PREFIX } from "./catalog";
import { incomingOwner } from "./import";
import { acquireOperationLock, isOwnerAlive, LOCK_FILENAME, type HeldLock } from "./lock";
import { announceRetentionDeleted } from "./notify/monitor";
import { startupRecoveryDone } from "./recovery";
import { getRetentionSettings, type RetentionRules } from "./settings";

const DAY_MS = 24 * 60 * 60 * 1000;

export interface RetentionPlan {
  keep: Backup[];
  remove: Backup[];
}

/** The time retention measures a backup's age from: its arrival here. */
export function arrivedAt(row: Backup): number {
  return (row.importedAt ?? row.createdAt).getTime();
}

const pad = (n: number) => String(n).padStart(2, "0");

/** Local calendar day, ISO week and month of a time: the GFS periods. */
export function periodKeys(time: number): { day: string; week: string; month: string } {
  const d = new Date(time);
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const month = `${d.getFullYear()}-${pad(d.getMonth() + 1)}`;
  // ISO 8601 week: the week (Monday first) holding this week's Thursday, counted in the
  // Thursday's year. Calendar arithmetic in UTC on the local date, so DST cannot shift it.
  const thursday = new Date(Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()));
  thursday.setUTCDate(thursday.getUTCDate() + 3 - ((thursday.getUTCDay() + 6) % 7));
  const jan4 = new Date(Date.UTC(thursday.getUTCFullYear(), 0, 4));
  const week = 1 + Math.round(((thursday.getTime() - jan4.getTime()) / DAY_MS - 3 + ((jan4.getUTCDay() + 6) % 7)) / 7);
  return { day, week: `${thursday.getUTCFullYear()}-W${pad(week)}`, month };
}

type PartialRules = Pick<RetentionRules, "maxCount" | "retentionDays"> & Partial<RetentionRules>;

/** Decides what retention deletes, without touching anything. */
export function planRetention(rows: Backup[], rules: PartialRules, now = Date.now()): RetentionPlan {
  const byId = new Map(rows.map((r) => [r.id, r]));
  const cutoff = now - rules.retentionDays * DAY_MS;
  const completed = rows.filter((r) => r.status === "completed").sort((a, b) => arrivedAt(b) - arrivedAt(a) || b.id - a.id);

  const kept = new Set<number>();
  completed.forEach((row, index) => {
    if (index === 0 || row.isProtected || (index < rules.maxCount && arrivedAt(row) >= cutoff)) kept.add(row.id);
  });
  const newestSound = completed.find((r) => r.verifyStatus !== "failed");
  if (newestSound) kept.add(newestSound.id);
  for (const [count, period] of [
    [rules.keepDaily ?? 0, "day"],
    [rules.keepWeekly ?? 0, "week"],
    [rules.keepMonthly ?? 0, "month"],
  ] as const) {
    const seen = new Set<string>();
    for (const row of completed) {
      if (seen.size >= count) break;
      const key = periodKeys(arrivedAt(row))[period];
      if (seen.has(key)) continue;
      seen.add(key);
      kept.add(row.id);
    }
  }
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
    (r) => !kept.has(r.id) && (r.status === "completed" || (r.status === "failed" && arrivedAt(r) < cutoff)),
  );
  return { keep: rows.filter((r) => kept.has(r.id)), remove };
}

/** What rules would delete now, for the preview an admin sees before saving them. */
export function previewRetention(db: AppDatabase, rules: RetentionRules, now = Date.now()): Backup[] {
  return planRetention(listBackupRows(db), rules, now).remove;
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
  const { sources: _sources, ...rules } = getRetentionSettings(db, config);
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
        details: {
          filename: row.filename,
          status: row.status,
          size_bytes: row.sizeBytes,
          max_count: rules.maxCount,
          retention_days: rules.retentionDays,
          keep_daily: rules.keepDaily || undefined,
          keep_weekly: rules.keepWeekly || undefined,
          keep_monthly: rules.keepMonthly || undefined,
        },
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
  // Failed rows have no archive: only removed archives are worth telling the admins about.
  const deletedIds = new Set(deleted.map((d) => d.id));
  announceRetentionDeleted(db, plan.remove.filter((r) => deletedIds.has(r.id) && r.status === "completed"));
  const sweptFiles = opts.sweep ? await sweepStrayFiles(db, config) : [];
  return { deleted, sweptFiles };
}

/**
 * Saved rules applied now, under the operation lock (retention must not race a restore
 * reading an archive or an incremental choosing its parent). When another operation holds
 * the lock, nothing is deleted now: that operation's own retention run (after a backup) or
 * the next timer run applies the rules; `applied: false` says so.
 */
export async function applyRetentionNow(opts: { db: AppDatabase; config: AppConfig; reason: string }): Promise<RetentionResult & { applied: boolean }> {
  await startupRecoveryDone();
  let lock: HeldLock;
  try {
    lock = acquireOperationLock(opts.config.backupPath, "maintenance", opts.reason);
  } catch (err) {
    if (err instanceof AppError && (err.code === "OPERATION_IN_PROGRESS" || err.code === "RESTORE_IN_PROGRESS")) return { applied: false, deleted: [], sweptFiles: [] };
    throw err;
  }
  try {
    return { applied: true, ...(await applyRetention({ db: opts.db, config: opts.config, sweep: false })) };
  } finally {
    lock.release();
  }
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
  const known = new Set(listBackupRows(db).map((r) => r.filename));
  const manifestDir = path.join(config.backupPath, MANIFEST_DIR);
  for (const name of await fs.promises.readdir(manifestDir).catch(() => [] as string[])) {
    if (!isCatalogSidecar(name, known)) {
      await fs.promises.rm(path.join(manifestDir, name), { force: true });
      swept.push(`${MANIFEST_DIR}/${name}`);
    }
  }
  return swept;
}
