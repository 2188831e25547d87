/**
 * The alert monitor: conditions that last, checked every minute by the web server.
 *   - Dead man's switch: no successful backup made here for notify.no_backup_hours
 *     (counted from the newest one, or from when the NAS was set up if there is none).
 *   - Low disk: the backup volume below notify.disk_free_min_percent free. It clears one
 *     percentage point above the threshold, so a volume hovering at the line (a backup
 *     written, retention deleting) does not send an alert and an all-clear every minute.
 * Each condition is an alert_incidents row: opened and announced once; while it stays open
 * nothing more is sent; when the condition clears the row is closed and a `resolved`
 * message is announced once. Opening and closing happen in an IMMEDIATE transaction, so
 * two processes checking at once cannot open the same alert twice.
 *
 * It also announces what retention deleted (announceRetentionDeleted, called by
 * applyRetention), when the admins want to hear about it.
 */
import { and, asc, eq, isNull } from "drizzle-orm";
import type { AppDatabase } from "@/db/client";
import { alertIncidents, users, type Backup, type NotifyEvent } from "@/db/schema";
import { formatBytes } from "@/lib/format";
import type { AppConfig } from "../../config";
import { describeError } from "../../errors";
import { backupVolumeSpace, lastSuccessfulBackup, roughDuration, type VolumeSpaceReader } from "../health";
import { getAlertSettings } from "./alert-settings";
import { announce, type BackupEvent } from "./announce";

type IncidentKind = Extract<NotifyEvent, "no_recent_backup" | "disk_low">;

export interface MonitorOptions {
  db: AppDatabase;
  config: AppConfig;
  now?: Date;
  volumeSpace?: VolumeSpaceReader;
}

export interface MonitorResult {
  opened: IncidentKind[];
  resolved: IncidentKind[];
}

/** A condition as seen now: `active` with the alert to send, or clear with the all-clear text. */
type Condition = { active: true; alert: BackupEvent } | { active: false; resolved: BackupEvent | null };

/** Opens or closes the kind's incident to match the condition; returns what changed. */
function reconcile(db: AppDatabase, kind: IncidentKind, condition: Condition, now: Date): "opened" | "resolved" | null {
  return db.transaction(
    (tx) => {
      const open = tx.select().from(alertIncidents).where(and(eq(alertIncidents.kind, kind), isNull(alertIncidents.clearedAt))).get();
      if (condition.active && !open) {
        tx.insert(alertIncidents).values({ kind, openedAt: now, message: condition.alert.message }).run();
        announce(tx as unknown as AppDatabase, condition.alert, now);
        return "opened";
      }
      if (!condition.active && open) {
        tx.update(alertIncidents).set({ clearedAt: now }).where(eq(alertIncidents.id, open.id)).run();
        if (condition.resolved) announce(tx as unknown as AppDatabase, condition.resolved, now);
        return "resolved";
      }
      return null;
    },
    { behavior: "immediate" },
  );
}

/** When this NAS was set up: the first account's creation (the first start creates the admin). */
function setUpAt(db: AppDatabase): Date | null {
  return db.select({ at: users.createdAt }).from(users).orderBy(asc(users.createdAt)).limit(1).get()?.at ?? null;
}

function noRecentBackup(db: AppDatabase, hours: number, now: Date): Condition {
  if (hours === 0) return { active: false, resolved: null };
  const last: Backup | undefined = lastSuccessfulBackup(db);
  const since = last ? (last.completedAt ?? last.createdAt) : setUpAt(db);
  if (!since || now.getTime() - since.getTime() <= hours * 3_600_000) {
    return {
      active: false,
      resolved: last
        ? {
            event: "resolved",
            severity: "info",
            title: "Backups are succeeding again",
            message: `The backup ${last.filename} completed at ${(last.completedAt ?? last.createdAt).toISOString()}; the "no recent backup" alert is closed.`,
            action: "Nothing to do.",
            backupId: last.id,
            details: { resolves: "no_recent_backup" },
          }
        : null,
    };
  }
  const age = roughDuration(now.getTime() - since.getTime());
  return {
    active: true,
    alert: {
      event: "no_recent_backup",
      severity: "critical",
      title: `No successful backup for ${age}`,
      message: last
        ? `The newest successful backup (${last.filename}) is ${age} old; the limit is ${hours} h. Your data is not protected by a recent backup.`
        : `No backup has succeeded since this NAS was set up ${age} ago; the limit is ${hours} h.`,
      action: "Open Settings → Backup: check the backup plans and the newest failed backup's error, then run a backup.",
      backupId: last?.id ?? null,
      details: { limit_hours: hours, last_success_at: last ? (last.completedAt ?? last.createdAt).toISOString() : null },
    },
  };
}

async function diskLow(opts: MonitorOptions, minPercent: number): Promise<Condition | null> {
  const { db, config } = opts;
  if (minPercent === 0) return { active: false, resolved: null };
  let space;
  try {
    space = await (opts.volumeSpace ?? backupVolumeSpace)(config.backupPath);
  } catch (err) {
    console.error("[notify] could not read the backup volume's free space:", describeError(err));
    return null; // unknown: leave the incident as it is
  }
  if (space.totalBytes <= 0) return null;
  const percent = (space.freeBytes / space.totalBytes) * 100;
  const shown = `${formatBytes(space.freeBytes)} (${Math.round(percent * 10) / 10} %)`;
  const open = db.select().from(alertIncidents).where(and(eq(alertIncidents.kind, "disk_low"), isNull(alertIncidents.clearedAt))).get();
  const low = percent < minPercent || (open !== undefined && percent < minPercent + 1);
  if (!low) {
    return {
      active: false,
      resolved: {
        event: "resolved",
        severity: "info",
        title: "Disk space on the backup volume is back above the limit",
        message: `${shown} is free on the backup volume (${config.backupPath}); the low-disk alert is closed.`,
        action: "Nothing to do.",
        details: { resolves: "disk_low", free_bytes: space.freeBytes, total_bytes: space.totalBytes },
      },
    };
  }
  return {
    active: true,
    alert: {
      event: "disk_low",
      severity: "warning",
      title: "Low disk space on the backup volume",
      message: `Only ${shown} is free on the backup volume (${config.backupPath}); the limit is ${minPercent} %. Backups fail when it runs out.`,
      action: "Delete old backups or tighten retention in Settings → Backup, or free space on the volume.",
      details: { free_bytes: space.freeBytes, total_bytes: space.totalBytes, limit_percent: minPercent },
    },
  };
}

/** Checks every condition once and opens or closes its alert. */
export async function checkAlerts(opts: MonitorOptions): Promise<MonitorResult> {
  const now = opts.now ?? new Date();
  const settings = getAlertSettings(opts.db);
  const result: MonitorResult = { opened: [], resolved: [] };
  const conditions: Array<[IncidentKind, Condition | null]> = [
    ["no_recent_backup", noRecentBackup(opts.db, settings.no_backup_hours, now)],
    ["disk_low", await diskLow(opts, settings.disk_free_min_percent)],
  ];
  for (const [kind, condition] of conditions) {
    if (!condition) continue;
    const change = reconcile(opts.db, kind, condition, now);
    if (change) result[change].push(kind);
  }
  return result;
}

/** Tells the admins what retention removed (when notify.retention_deleted is on). Never throws. */
export function announceRetentionDeleted(db: AppDatabase, removed: Array<Pick<Backup, "id" | "filename" | "sizeBytes">>, now = new Date()): void {
  try {
    if (removed.length === 0 || !getAlertSettings(db).notify_retention_deleted) return;
    const freed = removed.reduce((sum, r) => sum + r.sizeBytes, 0);
    announce(
      db,
      {
        event: "retention_deleted",
        severity: "info",
        title: `Retention removed ${removed.length === 1 ? "1 backup" : `${removed.length} backups`}`,
        message: `Retention deleted ${removed.map((r) => r.filename).join(", ")}, freeing ${formatBytes(freed)}.`,
        action: "Nothing to do if that was expected. To keep a backup, protect it in Settings → Backup; to keep more, loosen the retention rules.",
        details: { filenames: removed.map((r) => r.filename), freed_bytes: freed, count: removed.length },
      },
      now,
    );
  } catch (err) {
    console.error("[notify] could not announce retention deletions:", describeError(err));
  }
}

const MONITOR_EVERY_MS = 60_000;
const holder = globalThis as unknown as { __baluhostAlertMonitor?: NodeJS.Timeout };

/** Runs checkAlerts every minute in this process (the web server); one per process. */
export function startAlertMonitor(deps: { db: () => AppDatabase; config: () => AppConfig }): void {
  if (holder.__baluhostAlertMonitor) return;
  let running = false;
  const run = async () => {
    if (running) return;
    running = true;
    try {
      await checkAlerts({ db: deps.db(), config: deps.config() });
    } catch (err) {
      console.error("[notify] alert check failed:", describeError(err));
    } finally {
      running = false;
    }
  };
  holder.__baluhostAlertMonitor = setInterval(() => void run(), MONITOR_EVERY_MS);
  holder.__baluhostAlertMonitor.unref();
}

export function stopAlertMonitor(): void {
  if (holder.__baluhostAlertMonitor) clearInterval(holder.__baluhostAlertMonitor);
  holder.__baluhostAlertMonitor = undefined;
}
