/**
 * Slots: the scheduled times of a plan, and claiming them. A plan has two kinds, backup
 * slots (cron, last_slot_at) and drill slots (drill_cron, last_drill_slot_at), handled
 * alike.
 *
 * The due slot of a plan is the newest scheduled time at or before now that is later than
 * both the newest slot it claimed and its creation: after a downtime over many slots only
 * the newest one is due. An edit that changes when a plan runs (its cron, time zone, or
 * switching it on) marks the new schedule's past slots as passed (slotsPassedByEdit), so
 * times before the edit are not "missed" runs of the new schedule; any other edit (a
 * rename) keeps a run that is due and waiting. A slot is run by whoever claims it with one
 * conditional UPDATE, so two processes on the same database, or one process twice, never
 * run one slot twice.
 */
import { and, eq, isNull, lt, or } from "drizzle-orm";
import type { AppDatabase } from "@/db/client";
import { backupPlans, type BackupPlanRow } from "@/db/schema";
import { newestSlotAtOrBefore, nextSlotAfter } from "./cron";

export type SlotKind = "backup" | "drill";

const column = { backup: backupPlans.lastSlotAt, drill: backupPlans.lastDrillSlotAt } as const;

function scheduleOf(plan: BackupPlanRow, kind: SlotKind): string | null {
  return kind === "backup" ? plan.cron : plan.drillCron;
}

function lastClaimed(plan: BackupPlanRow, kind: SlotKind): Date | null {
  return kind === "backup" ? plan.lastSlotAt : plan.lastDrillSlotAt;
}

/** The slot that should run now, or null. A schedule croner no longer accepts has no slots (and is logged). */
export function dueSlot(plan: BackupPlanRow, kind: SlotKind, now: Date): Date | null {
  const cron = scheduleOf(plan, kind);
  if (!plan.enabled || !cron) return null;
  let slot: Date | null;
  try {
    slot = newestSlotAtOrBefore(cron, plan.timezone, now);
  } catch (err) {
    console.error(`[scheduler] plan ${plan.id} ("${plan.name}") has an unusable ${kind} schedule "${cron}":`, err);
    return null;
  }
  if (!slot) return null;
  const claimed = lastClaimed(plan, kind)?.getTime() ?? -Infinity;
  return slot.getTime() > claimed && slot.getTime() > plan.createdAt.getTime() ? slot : null;
}

function upcoming(plan: BackupPlanRow, kind: SlotKind, now: Date): Date | null {
  const cron = scheduleOf(plan, kind);
  if (!plan.enabled || !cron) return null;
  try {
    // A slot that is due but unclaimed (waiting for the lock) is the next run, though it is past.
    return dueSlot(plan, kind, now) ?? nextSlotAfter(cron, plan.timezone, now);
  } catch {
    return null;
  }
}

/** When the plan's next backup starts: a past time when it is due and waiting; null when disabled. */
export function nextRunAt(plan: BackupPlanRow, now = new Date()): Date | null {
  return upcoming(plan, "backup", now);
}

/** When the plan's next restore drill starts; null without a drill schedule. */
export function nextDrillAt(plan: BackupPlanRow, now = new Date()): Date | null {
  return upcoming(plan, "drill", now);
}

type Schedule = Pick<BackupPlanRow, "cron" | "timezone" | "enabled" | "drillCron">;

/**
 * The slot columns an edit sets: for each schedule whose timing changed (expression, time
 * zone, or the plan switched on), its newest slot up to now counts as passed.
 */
export function slotsPassedByEdit(
  before: BackupPlanRow,
  after: Schedule,
  now: Date,
): Partial<Pick<BackupPlanRow, "lastSlotAt" | "lastDrillSlotAt">> {
  const retimed = before.timezone !== after.timezone || (!before.enabled && after.enabled);
  const passed = (cron: string | null, changed: boolean, claimed: Date | null): Date | undefined => {
    if (!cron || !(changed || retimed)) return undefined;
    const slot = newestSlotAtOrBefore(cron, after.timezone, now);
    return slot && (!claimed || slot > claimed) ? slot : undefined;
  };
  const lastSlotAt = passed(after.cron, before.cron !== after.cron, before.lastSlotAt);
  const lastDrillSlotAt = passed(after.drillCron, before.drillCron !== after.drillCron, before.lastDrillSlotAt);
  return { ...(lastSlotAt ? { lastSlotAt } : {}), ...(lastDrillSlotAt ? { lastDrillSlotAt } : {}) };
}

/** Claims a slot for this caller; false when someone else has (or the plan was disabled or deleted meanwhile). */
export function claimSlot(db: AppDatabase, planId: number, kind: SlotKind, slot: Date): boolean {
  const col = column[kind];
  const result = db
    .update(backupPlans)
    .set(kind === "backup" ? { lastSlotAt: slot } : { lastDrillSlotAt: slot })
    .where(and(eq(backupPlans.id, planId), eq(backupPlans.enabled, true), or(isNull(col), lt(col, slot))))
    .run();
  return result.changes === 1;
}

/**
 * Gives a claimed slot back (its run could not start: another operation took the lock
 * first), so the next tick of any process claims it again. Only if it is still ours.
 */
export function releaseSlot(db: AppDatabase, planId: number, kind: SlotKind, slot: Date, previous: Date | null): void {
  const col = column[kind];
  db.update(backupPlans)
    .set(kind === "backup" ? { lastSlotAt: previous } : { lastDrillSlotAt: previous })
    .where(and(eq(backupPlans.id, planId), eq(col, slot)))
    .run();
}
