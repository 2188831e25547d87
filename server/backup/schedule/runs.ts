/**
 * One run of a backup plan, by the scheduler or by "Run now": a backup of the plan's type
 * (every full_every-th run of an incremental plan is full), then a verification of the
 * archive, then the result on the plan (last run, backup, result, error).
 *
 * Who tells the admins about a failure: a backup that fails while it runs is announced by
 * the backup service itself (backup_failed); here only what the service does not announce:
 * a scheduled run refused before it started (e.g. not enough space). A backup that was
 * written but failed verification is announced by verifyBackup (verify_failed). So each
 * failure is announced once. A
 * failed run does not count towards full_every, so the next full backup is not skipped.
 */
import { eq, sql } from "drizzle-orm";
import type { AppDatabase } from "@/db/client";
import { backupPlans, type Backup, type BackupOrigin, type BackupPlanRow, type PlanBackupType } from "@/db/schema";
import { recordAudit, type Actor } from "../../audit";
import type { AppConfig } from "../../config";
import { describeError, isAppError } from "../../errors";
import { getBackupRow } from "../catalog";
import { verifyBackup } from "../import";
import { announce } from "../notify/announce";
import { createBackup, waitForBackup } from "../service";
import { getPlanRow } from "./plans";
import { nextRunAt } from "./slots";

/** The type this run makes: the plan's, except that every full_every-th run of an incremental plan is full. */
export function backupTypeForRun(plan: BackupPlanRow): PlanBackupType {
  if (plan.backupType === "incremental" && plan.fullEvery && plan.runsSinceFull >= plan.fullEvery - 1) return "full";
  return plan.backupType;
}

/** Whether an error only means "another operation holds the lock": a scheduled run waits then, it has not failed. */
export function isLockBusy(err: unknown): boolean {
  return isAppError(err) && (err.code === "OPERATION_IN_PROGRESS" || err.code === "RESTORE_IN_PROGRESS");
}

export interface StartedPlanBackup {
  /** The backup as it started (in_progress). */
  started: Backup;
  /** Resolves with the backup once it has finished and, if it completed, been verified. */
  finished: Promise<Backup>;
}

/**
 * Starts the plan's backup; refusals (the lock is held, too little space) throw before
 * anything is written, like a manual backup's.
 */
export async function startPlanBackup(opts: {
  db: AppDatabase;
  config: AppConfig;
  actor: Actor;
  plan: BackupPlanRow;
  origin: BackupOrigin;
}): Promise<StartedPlanBackup> {
  const { db, config, actor, plan } = opts;
  const started = await createBackup({
    db,
    config,
    actor,
    origin: opts.origin,
    scheduledBy: { planId: plan.id, planName: plan.name },
    input: { backup_type: backupTypeForRun(plan), includes_config: plan.includeConfig, wait: false },
  });
  const finished = (async () => {
    await waitForBackup(started.id);
    const row = getBackupRow(db, started.id);
    return row.status === "completed" ? verifyBackup({ db, config, actor, id: row.id }) : row;
  })();
  return { started, finished };
}

export type RunTrigger = "scheduled" | "manual";

export interface PlanRunResult {
  ok: boolean;
  backup: Backup | null;
  /** What went wrong, for the admin; null when the run succeeded. */
  error: string | null;
}

function nextRunText(db: AppDatabase, planId: number, now: Date): string {
  try {
    const next = nextRunAt(getPlanRow(db, planId), now);
    return next ? `The next scheduled run is at ${next.toISOString()}.` : "The plan has no further scheduled run.";
  } catch {
    return "";
  }
}

/**
 * Records how a run ended on the plan and, when it failed, in the audit log; announces what
 * the backup service did not (see the header). `outcome` is the finished backup, or the
 * error that kept the run from starting or finishing.
 */
export function finishPlanRun(opts: {
  db: AppDatabase;
  plan: BackupPlanRow;
  actor: Actor;
  trigger: RunTrigger;
  slot: Date | null;
  now: Date;
  outcome: { backup: Backup } | { error: unknown };
  /** Announce a refusal (true for the scheduler: nobody is watching; "Run now" shows it to the admin instead). */
  announceRefusal: boolean;
}): PlanRunResult {
  const { db, plan, now } = opts;
  const backup = "backup" in opts.outcome ? opts.outcome.backup : null;
  const where = opts.trigger === "scheduled" ? `The scheduled backup of plan "${plan.name}"` : `The backup of plan "${plan.name}" (Run now)`;
  let error: string | null = null;
  if (!backup) {
    const reason = describeError("error" in opts.outcome ? opts.outcome.error : null);
    error = `${where} did not start: ${reason}`;
    if (opts.announceRefusal) {
      announce(db, {
        event: "backup_failed",
        severity: "critical",
        title: `Scheduled backup "${plan.name}" did not start`,
        message: `${where}${opts.slot ? `, due at ${opts.slot.toISOString()},` : ""} was refused: ${reason}`,
        action: `Fix the cause, then use Run now on the plan in Settings → Backup (or: npm run -s cli -- schedule run "${plan.name}"). ${nextRunText(db, plan.id, now)}`.trim(),
        planName: plan.name,
        details: { plan_id: plan.id, slot: opts.slot?.toISOString() ?? null },
      });
    }
  } else if (backup.status !== "completed") {
    // Announced by the backup service when it failed.
    error = `${where} failed: ${backup.errorMessage ?? "unknown reason; check the server log."}`;
  } else if (backup.verifyStatus === "failed") {
    error =
      `${where} wrote ${backup.filename}, but it failed verification: ${backup.verifyError ?? "unknown problem"}. ` +
      "It is marked Damaged. Check the backup disk, then run the plan again.";
  }
  const ok = error === null;
  db.update(backupPlans)
    .set({
      lastRunAt: now,
      lastBackupId: backup?.id ?? null,
      lastResult: ok ? "ok" : "failed",
      lastError: error,
      // Only a successful run counts: a failed one must not push the next full backup further away.
      ...(ok ? { runsSinceFull: backup!.backupType === "full" ? 0 : sql`${backupPlans.runsSinceFull} + 1` } : {}),
    })
    .where(eq(backupPlans.id, plan.id))
    .run();
  if (!ok) {
    recordAudit(db, {
      action: opts.trigger === "scheduled" ? "backup.scheduled_run" : "backup.plan_run",
      actor: opts.actor,
      resource: `plan:${plan.id}`,
      success: false,
      errorMessage: error,
      details: { plan: plan.name, backup_id: backup?.id ?? null, slot: opts.slot?.toISOString() ?? null },
    });
  }
  return { ok, backup, error };
}

export interface RunPlanNowOptions {
  db: AppDatabase;
  config: AppConfig;
  actor: Actor;
  planId: number;
  now?: () => Date;
}

/**
 * "Run now": the plan's backup at once, by the admin, without using up a scheduled slot.
 * Refused with OPERATION_IN_PROGRESS (409) while another operation holds the lock, like a
 * manual backup; the result is recorded on the plan like a scheduled run's. Resolves when
 * the backup has started; `finished` when it has been made, verified and recorded (the CLI
 * waits for it, the web answers at once).
 */
export async function runPlanNow(opts: RunPlanNowOptions): Promise<{ started: Backup; finished: Promise<PlanRunResult> }> {
  const { db, config, actor, planId } = opts;
  const now = opts.now ?? (() => new Date());
  const plan = getPlanRow(db, planId);
  let run: StartedPlanBackup;
  try {
    run = await startPlanBackup({ db, config, actor, plan, origin: "manual" });
  } catch (err) {
    recordAudit(db, { action: "backup.plan_run", actor, resource: `plan:${plan.id}`, success: false, errorMessage: describeError(err), details: { plan: plan.name } });
    throw err;
  }
  recordAudit(db, {
    action: "backup.plan_run",
    actor,
    resource: `plan:${plan.id}`,
    success: true,
    details: { plan: plan.name, backup_id: run.started.id, backup_type: run.started.backupType },
  });
  const finished = run.finished
    .then(
      (backup) => ({ backup }),
      (error: unknown) => ({ error }),
    )
    .then((outcome) => finishPlanRun({ db, plan, actor, trigger: "manual", slot: null, now: now(), outcome, announceRefusal: false }));
  // Nobody may await it (the web answers at once): a failure to record is logged, not left unhandled.
  const settled = finished
    .then(
      () => undefined,
      (err: unknown) => console.error(`[scheduler] recording the run of plan ${plan.id} failed:`, err),
    )
    .finally(() => finishing.delete(settled));
  finishing.add(settled);
  return { started: run.started, finished };
}

const finishing = new Set<Promise<void>>();

/** Resolves when every "Run now" of this process has been verified and recorded (tests and shutdown wait for it). */
export async function planRunsSettled(): Promise<void> {
  while (finishing.size) await Promise.all([...finishing]);
}
