/**
 * The backup scheduler: on every tick, each enabled plan whose slot is due (see slots.ts)
 * gets one run, and so does its restore drill schedule.
 *
 * Invariants:
 * - Exactly one run per slot, across processes: a slot is claimed by a conditional UPDATE
 *   before it runs. After a downtime over many slots, one run (the newest slot).
 * - Never a silent skip while another operation (a manual backup, a restore, the CLI,
 *   another process) holds the operation lock: the slot is not claimed while the lock is
 *   held, and a claim that loses the race for the lock is given back, so the run starts at
 *   the first tick after the lock is free. If the lock outlasts the next slot, the plan
 *   still runs once (the newest slot), not twice.
 * - The clock and the runners are injected, so tests drive time instead of sleeping.
 *
 * A run killed with the process (kill -9, power loss) is left to the existing recovery: its
 * backup becomes failed ("interrupted") at the next start. The timer is unref'd and nothing
 * waits for a run at shutdown.
 */
import { asc, eq } from "drizzle-orm";
import { getDb, type AppDatabase } from "@/db/client";
import { backupPlans, type Backup, type BackupPlanRow } from "@/db/schema";
import { SYSTEM_ACTOR } from "../../audit";
import { getConfig, type AppConfig } from "../../config";
import { runRestoreDrill } from "../drill/drill";
import { readLiveLock } from "../lock";
import { seedAutoPlan } from "./auto-plan";
import { finishPlanRun, isLockBusy, startPlanBackup } from "./runs";
import { claimSlot, dueSlot, releaseSlot, type SlotKind } from "./slots";

export { nextDrillAt, nextRunAt } from "./slots";

export interface BackupSchedulerOptions {
  /** The database, read at every tick (a restore reopens the handle). Default: the process database. */
  db?: () => AppDatabase;
  config?: () => AppConfig;
  now?: () => Date;
  /**
   * Makes the plan's backup for a slot and resolves with the finished (and verified) row;
   * throws when refused. Default: createBackup (origin scheduled, by system, for the plan)
   * then verifyBackup.
   */
  runBackup?: (plan: BackupPlanRow, slot: Date) => Promise<Backup>;
  /** Runs a restore drill for a drill slot. Without it, drill slots are left unclaimed. */
  runDrill?: (plan: BackupPlanRow, slot: Date) => Promise<void>;
}

/** What one tick did, per plan and slot kind. */
export interface TickReport {
  ran: Array<{ planId: number; kind: SlotKind; slot: Date; ok: boolean }>;
  /** Due, but another operation holds the lock: they run at a later tick. */
  waiting: Array<{ planId: number; kind: SlotKind; slot: Date }>;
}

export class BackupScheduler {
  private readonly db: () => AppDatabase;
  private readonly config: () => AppConfig;
  private readonly now: () => Date;
  private readonly runBackup: (plan: BackupPlanRow, slot: Date) => Promise<Backup>;
  private readonly runDrill?: (plan: BackupPlanRow, slot: Date) => Promise<void>;
  private ticking: Promise<TickReport> | null = null;

  constructor(options: BackupSchedulerOptions = {}) {
    this.db = options.db ?? getDb;
    this.config = options.config ?? getConfig;
    this.now = options.now ?? (() => new Date());
    this.runDrill = options.runDrill;
    this.runBackup =
      options.runBackup ??
      (async (plan) => {
        const run = await startPlanBackup({ db: this.db(), config: this.config(), actor: SYSTEM_ACTOR, plan, origin: "scheduled" });
        return run.finished;
      });
  }

  /**
   * Runs what is due now, one run after the other (they share the lock anyway), and
   * resolves when they have finished. A tick while one is in progress joins it.
   */
  tick(): Promise<TickReport> {
    this.ticking ??= this.runDue().finally(() => {
      this.ticking = null;
    });
    return this.ticking;
  }

  private async runDue(): Promise<TickReport> {
    const report: TickReport = { ran: [], waiting: [] };
    const ids = this.db().select({ id: backupPlans.id }).from(backupPlans).where(eq(backupPlans.enabled, true)).orderBy(asc(backupPlans.id)).all();
    // Backups before drills: a drill should test the newest backup.
    for (const kind of ["backup", "drill"] as const) {
      if (kind === "drill" && !this.runDrill) continue;
      for (const { id } of ids) {
        // Re-read: an earlier run took time, and the plan may have changed or been claimed meanwhile.
        const plan = this.db().select().from(backupPlans).where(eq(backupPlans.id, id)).get();
        const slot = plan ? dueSlot(plan, kind, this.now()) : null;
        if (!plan || !slot) continue;
        if (readLiveLock(this.config().backupPath)) {
          report.waiting.push({ planId: id, kind, slot });
          continue;
        }
        const previous = kind === "backup" ? plan.lastSlotAt : plan.lastDrillSlotAt;
        if (!claimSlot(this.db(), id, kind, slot)) continue;
        const ok = kind === "backup" ? await this.runBackupSlot(plan, slot, previous) : await this.runDrillSlot(plan, slot, previous);
        if (ok === "waiting") report.waiting.push({ planId: id, kind, slot });
        else report.ran.push({ planId: id, kind, slot, ok });
      }
    }
    return report;
  }

  private async runBackupSlot(plan: BackupPlanRow, slot: Date, previous: Date | null): Promise<boolean | "waiting"> {
    let outcome: { backup: Backup } | { error: unknown };
    try {
      outcome = { backup: await this.runBackup(plan, slot) };
    } catch (err) {
      if (isLockBusy(err)) {
        releaseSlot(this.db(), plan.id, "backup", slot, previous);
        return "waiting";
      }
      outcome = { error: err };
    }
    const result = finishPlanRun({
      db: this.db(),
      plan,
      actor: SYSTEM_ACTOR,
      trigger: "scheduled",
      slot,
      now: this.now(),
      outcome,
      announceRefusal: true,
    });
    return result.ok;
  }

  private async runDrillSlot(plan: BackupPlanRow, slot: Date, previous: Date | null): Promise<boolean | "waiting"> {
    try {
      await this.runDrill!(plan, slot);
      return true;
    } catch (err) {
      if (isLockBusy(err)) {
        releaseSlot(this.db(), plan.id, "drill", slot, previous);
        return "waiting";
      }
      // The drill engine records and announces its own failures; this is only the trace.
      console.error(`[scheduler] restore drill of plan ${plan.id} ("${plan.name}") failed:`, err);
      return false;
    }
  }
}

const TICK_MS = 30 * 1000;
/** The first tick waits for start-up recovery to settle; a missed slot then runs right away. */
const FIRST_TICK_MS = 10 * 1000;

const holder = globalThis as unknown as { __baluhostBackupScheduler?: { scheduler: BackupScheduler; timer: NodeJS.Timeout } };

/**
 * A plan's scheduled restore drill: the drill engine on the plan's newest good backup, by
 * system. It records and announces its own result; a held lock throws, and the scheduler
 * gives the slot back to run it when the lock is free.
 */
export function planDrillRunner(db: () => AppDatabase, config: () => AppConfig): (plan: BackupPlanRow) => Promise<void> {
  return async (plan) => {
    await runRestoreDrill({ db: db(), config: config(), actor: SYSTEM_ACTOR, planId: plan.id });
  };
}

/**
 * Starts the web server's scheduler (one per process; later calls return the same one):
 * seeds the environment's automatic plan on the first start, then ticks every 30 s and
 * runs plans' backups and restore drills. The CLI never starts it. A bad BACKUP_AUTO_*
 * value throws a ConfigError naming it.
 */
export function startBackupScheduler(options: BackupSchedulerOptions = {}): BackupScheduler {
  if (holder.__baluhostBackupScheduler) return holder.__baluhostBackupScheduler.scheduler;
  const db = options.db ?? getDb;
  seedAutoPlan({ db: db(), env: process.env, now: (options.now ?? (() => new Date()))() });
  const scheduler = new BackupScheduler({ runDrill: planDrillRunner(db, options.config ?? getConfig), ...options });
  const tick = () =>
    void scheduler.tick().catch((err: unknown) => {
      console.error("[scheduler] tick failed:", err);
    });
  const first = setTimeout(() => {
    tick();
    const every = setInterval(tick, TICK_MS);
    every.unref();
    holder.__baluhostBackupScheduler!.timer = every;
  }, FIRST_TICK_MS);
  first.unref();
  holder.__baluhostBackupScheduler = { scheduler, timer: first };
  return scheduler;
}

/** Stops the process's scheduler timer (a run in progress finishes on its own). */
export function stopBackupScheduler(): void {
  const current = holder.__baluhostBackupScheduler;
  if (!current) return;
  clearTimeout(current.timer);
  clearInterval(current.timer);
  holder.__baluhostBackupScheduler = undefined;
}
