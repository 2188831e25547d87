/**
 * Backup health: is this NAS protected right now? One answer for the Backup tab, the
 * `health` CLI, GET /api/health/backups and the Prometheus metrics, computed from the
 * catalog, the plans, the drills and the open alerts. Read-only.
 *
 * Status (the first rule that matches):
 *   critical: no successful backup made here (origin manual or scheduled) exists; or the
 *             newest one is older than notify.no_backup_hours (or a no_recent_backup
 *             alert is open); or the newest finished backup made here failed (a cancel
 *             does not count), so the last attempt to protect the data did not.
 *   warning:  protected, but something needs a look: the newest verification or restore
 *             drill failed, or the backup volume is below notify.disk_free_min_percent
 *             free (or a disk_low alert is open).
 *   ok:       otherwise.
 * Safety backups (taken before a restore), uploads and imports are listed and counted, but
 * they are not what protects the NAS from tomorrow's disk failure, so they never make it ok.
 */
import fs from "node:fs";
import { Cron } from "croner";
import { z } from "zod";
import { and, desc, eq, inArray, isNotNull, isNull, ne, or, sql } from "drizzle-orm";
import type { AppDatabase } from "@/db/client";
import { alertIncidents, backupPlans, backups, restoreDrills, type AlertIncident, type Backup, type BackupOrigin } from "@/db/schema";
import type { AppConfig } from "../config";
import { getAlertSettings, type AlertSettings } from "./notify/alert-settings";

/** Backups made by this NAS on purpose: the ones that count as protection. */
export const MADE_HERE: BackupOrigin[] = ["manual", "scheduled"];

export interface VolumeSpace {
  freeBytes: number;
  totalBytes: number;
}
export type VolumeSpaceReader = (dir: string) => Promise<VolumeSpace>;

/** Free and total bytes of the volume holding `dir` (as an unprivileged writer sees it). */
export const backupVolumeSpace: VolumeSpaceReader = async (dir) => {
  const s = await fs.promises.statfs(dir);
  return { freeBytes: Number(s.bavail) * Number(s.bsize), totalBytes: Number(s.blocks) * Number(s.bsize) };
};

export type HealthStatus = "ok" | "warning" | "critical";

/** The health answer: the same shape for tRPC, REST and `health --json`. */
export const healthSchema = z.object({
  status: z.enum(["ok", "warning", "critical"]),
  summary: z.string(),
  reasons: z.array(z.string()),
  last_success_at: z.string().nullable(),
  last_success_age_seconds: z.number().nullable(),
  last_success_backup_id: z.number().nullable(),
  last_failure_at: z.string().nullable(),
  last_failure_message: z.string().nullable(),
  next_scheduled_run_at: z.string().nullable(),
  last_verify: z
    .object({ status: z.enum(["ok", "failed"]), verified_at: z.string(), backup_id: z.number(), filename: z.string(), error: z.string().nullable() })
    .nullable(),
  last_drill: z
    .object({
      status: z.enum(["passed", "failed"]),
      finished_at: z.string().nullable(),
      duration_ms: z.number().nullable(),
      backup_id: z.number().nullable(),
      error: z.string().nullable(),
    })
    .nullable(),
  free_bytes: z.number().nullable(),
  free_percent: z.number().nullable(),
  open_incidents: z.array(z.object({ id: z.number(), kind: z.string(), opened_at: z.string(), message: z.string() })),
  backups_count: z.number(),
  total_bytes: z.number(),
  checked_at: z.string(),
});
export type BackupHealth = z.output<typeof healthSchema>;

const when = (b: Backup) => b.completedAt ?? b.createdAt;

export function lastSuccessfulBackup(db: AppDatabase): Backup | undefined {
  return db
    .select()
    .from(backups)
    .where(and(inArray(backups.origin, MADE_HERE), eq(backups.status, "completed")))
    .orderBy(desc(sql`coalesce(${backups.completedAt}, ${backups.createdAt})`), desc(backups.id))
    .get();
}

/** The newest backup made here that finished (completed or failed; a cancelled one is the admin's doing). */
function newestFinishedMadeHere(db: AppDatabase): Backup | undefined {
  return db
    .select()
    .from(backups)
    .where(
      and(
        inArray(backups.origin, MADE_HERE),
        ne(backups.status, "in_progress"),
        or(isNull(backups.errorCode), ne(backups.errorCode, "BACKUP_CANCELLED")),
      ),
    )
    .orderBy(desc(backups.createdAt), desc(backups.id))
    .get();
}

function newestFailureMadeHere(db: AppDatabase): Backup | undefined {
  return db
    .select()
    .from(backups)
    .where(and(inArray(backups.origin, MADE_HERE), eq(backups.status, "failed"), or(isNull(backups.errorCode), ne(backups.errorCode, "BACKUP_CANCELLED"))))
    .orderBy(desc(backups.createdAt), desc(backups.id))
    .get();
}

export function openIncidents(db: AppDatabase): AlertIncident[] {
  return db.select().from(alertIncidents).where(isNull(alertIncidents.clearedAt)).orderBy(alertIncidents.openedAt).all();
}

/** The next time any enabled plan runs, read straight from the plans (croner, the plan's zone). */
export function nextScheduledRun(db: AppDatabase, now: Date): Date | null {
  let next: Date | null = null;
  for (const plan of db.select().from(backupPlans).where(eq(backupPlans.enabled, true)).all()) {
    try {
      const run = new Cron(plan.cron, { timezone: plan.timezone, paused: true }).nextRun(now);
      if (run && (!next || run < next)) next = run;
    } catch {
      // A plan with an expression croner cannot read has no next run; the plans UI says why.
    }
  }
  return next;
}

/** "5 min", "3 h", "2 days": an age at a glance. */
export function roughDuration(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return "less than a minute";
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h`;
  return `${Math.floor(hours / 24)} days`;
}

export async function backupHealth(opts: {
  db: AppDatabase;
  config: AppConfig;
  now?: Date;
  volumeSpace?: VolumeSpaceReader;
  settings?: AlertSettings;
}): Promise<BackupHealth> {
  const { db, config } = opts;
  const now = opts.now ?? new Date();
  const settings = opts.settings ?? getAlertSettings(db);
  const success = lastSuccessfulBackup(db);
  const newest = newestFinishedMadeHere(db);
  const failure = newestFailureMadeHere(db);
  const incidents = openIncidents(db);
  const verified = db.select().from(backups).where(isNotNull(backups.verifiedAt)).orderBy(desc(backups.verifiedAt)).get();
  const drill = db.select().from(restoreDrills).where(ne(restoreDrills.status, "running")).orderBy(desc(restoreDrills.startedAt), desc(restoreDrills.id)).get();
  const totals = db
    .select({ n: sql<number>`count(*)`, bytes: sql<number>`coalesce(sum(${backups.sizeBytes}), 0)` })
    .from(backups)
    .where(eq(backups.status, "completed"))
    .get() ?? { n: 0, bytes: 0 };
  const space = await (opts.volumeSpace ?? backupVolumeSpace)(config.backupPath).catch(() => null);
  const freePercent = space && space.totalBytes > 0 ? Math.round((space.freeBytes / space.totalBytes) * 1000) / 10 : null;
  const next = nextScheduledRun(db, now);

  const ageMs = success ? Math.max(0, now.getTime() - when(success).getTime()) : null;
  const critical: string[] = [];
  const warnings: string[] = [];
  if (!success) critical.push("No backup has been made yet");
  else if ((settings.no_backup_hours > 0 && ageMs! > settings.no_backup_hours * 3_600_000) || incidents.some((i) => i.kind === "no_recent_backup")) {
    critical.push(`No successful backup for ${roughDuration(ageMs!)}`);
  }
  if (newest?.status === "failed") {
    critical.push(`The last backup failed ${roughDuration(now.getTime() - when(newest).getTime())} ago: ${newest.errorMessage ?? "unknown reason"}`);
  }
  if (verified?.verifyStatus === "failed") warnings.push(`The last verification failed (${verified.filename})`);
  if (drill?.status === "failed") warnings.push(`The last restore drill failed${drill.errorMessage ? `: ${drill.errorMessage}` : ""}`);
  const diskLow = (freePercent !== null && settings.disk_free_min_percent > 0 && freePercent < settings.disk_free_min_percent) || incidents.some((i) => i.kind === "disk_low");
  if (diskLow) warnings.push(`Low disk space on the backup volume${freePercent !== null ? ` (${freePercent} % free)` : ""}`);

  const status: HealthStatus = critical.length ? "critical" : warnings.length ? "warning" : "ok";
  let summary: string;
  if (status === "critical") {
    summary = critical[0]!;
    if (success && !critical[0]!.startsWith("No successful")) summary += `; last success ${roughDuration(ageMs!)} ago`;
  } else {
    const verifiedNote = success!.verifyStatus === "ok" ? ", verified" : success!.verifyStatus === "failed" ? ", damaged" : "";
    const nextNote = next ? `next in ${roughDuration(next.getTime() - now.getTime())}` : "no backup scheduled";
    summary = `Protected: last backup ${roughDuration(ageMs!)} ago${verifiedNote}; ${nextNote}`;
    if (warnings.length) summary += `. ${warnings.join("; ")}`;
  }

  return {
    status,
    summary,
    reasons: [...critical, ...warnings],
    last_success_at: success ? when(success).toISOString() : null,
    last_success_age_seconds: ageMs === null ? null : Math.floor(ageMs / 1000),
    last_success_backup_id: success?.id ?? null,
    last_failure_at: failure ? when(failure).toISOString() : null,
    last_failure_message: failure?.errorMessage ?? null,
    next_scheduled_run_at: next?.toISOString() ?? null,
    last_verify: verified?.verifiedAt
      ? { status: verified.verifyStatus ?? "ok", verified_at: verified.verifiedAt.toISOString(), backup_id: verified.id, filename: verified.filename, error: verified.verifyError }
      : null,
    last_drill: drill
      ? { status: drill.status === "passed" ? "passed" : "failed", finished_at: drill.finishedAt?.toISOString() ?? null, duration_ms: drill.durationMs, backup_id: drill.backupId, error: drill.errorMessage }
      : null,
    free_bytes: space?.freeBytes ?? null,
    free_percent: freePercent,
    open_incidents: incidents.map((i) => ({ id: i.id, kind: i.kind, opened_at: i.openedAt.toISOString(), message: i.message })),
    backups_count: Number(totals.n),
    total_bytes: Number(totals.bytes),
    checked_at: now.toISOString(),
  };
}

const STATUS_VALUE: Record<HealthStatus, number> = { ok: 0, warning: 1, critical: 2 };

/**
 * The Prometheus text exposition format (0.0.4) of a health answer. A value that does not
 * exist (no drill yet, no plan) has no sample, except the last success timestamp, which is
 * 0 when there never was one, so `time() - metric > 86400*2` fires on a NAS never backed up.
 */
export function healthMetrics(h: BackupHealth): string {
  const lines: string[] = [];
  // All gauges: even the *_total ones are catalog sizes that shrink when retention deletes.
  const metric = (name: string, help: string, value: number | null | undefined) => {
    if (value === null || value === undefined || !Number.isFinite(value)) return;
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`);
  };
  const seconds = (iso: string | null) => (iso ? Math.floor(Date.parse(iso) / 1000) : null);
  metric("baluhost_backup_last_success_timestamp_seconds", "Unix time of the newest successful backup made here (0 = never).", seconds(h.last_success_at) ?? 0);
  metric("baluhost_backup_last_success_age_seconds", "Seconds since the newest successful backup made here.", h.last_success_age_seconds);
  metric("baluhost_backup_status", "Backup health: 0 ok, 1 warning, 2 critical.", STATUS_VALUE[h.status]);
  metric("baluhost_backups_total", "Completed backups in the catalog.", h.backups_count);
  metric("baluhost_backup_bytes_total", "Bytes of all completed backups.", h.total_bytes);
  metric("baluhost_backup_last_drill_success", "1 if the newest restore drill passed, 0 if it failed.", h.last_drill ? (h.last_drill.status === "passed" ? 1 : 0) : null);
  metric("baluhost_backup_last_drill_duration_seconds", "Time the newest restore drill took to restore and check.", h.last_drill?.duration_ms != null ? h.last_drill.duration_ms / 1000 : null);
  metric("baluhost_backup_volume_free_bytes", "Free bytes on the backup volume.", h.free_bytes);
  metric("baluhost_backup_next_run_timestamp_seconds", "Unix time of the next scheduled backup of any enabled plan.", seconds(h.next_scheduled_run_at));
  metric("baluhost_backup_open_incidents", "Alerts open now (no recent backup, low disk).", h.open_incidents.length);
  return `${lines.join("\n")}\n`;
}
