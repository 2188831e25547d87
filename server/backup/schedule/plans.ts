/**
 * Backup plans: what to back up and when. The one place that creates, changes and deletes
 * plans; tRPC, REST and the CLI call these functions, the scheduler reads the rows.
 *
 * Invariants: a stored plan always has a cron expression croner accepts and that runs at
 * least once, an IANA time zone (stored under its canonical name), a unique name
 * (case-insensitively), and full_every only when it is incremental. Every change is in the
 * audit log with its actor. An edit that changes when a plan runs is its new start: times
 * before the edit are never "missed" runs of the new schedule (see slots.ts).
 */
import { and, desc, eq, ne, sql } from "drizzle-orm";
import { z } from "zod";
import type { AppDatabase } from "@/db/client";
import { backupPlans, backups, PLAN_BACKUP_TYPES, RUN_RESULTS, type BackupPlanRow, type PlanBackupType } from "@/db/schema";
import { recordAudit, type Actor } from "../../audit";
import type { AppConfig } from "../../config";
import { AppError } from "../../errors";
import { assertNoRestoreRunning } from "../lock";
import { canonicalTimezone, cronProblem, describeCron, normalizeCron, serverTimezone, timezoneProblem } from "./cron";
import { DEFAULT_DRILL_CRON } from "./presets";
import { nextDrillAt, nextRunAt, slotsPassedByEdit } from "./slots";

export { DEFAULT_DRILL_CRON, PLAN_PRESETS } from "./presets";

export const planIdSchema = z.coerce
  .number({ error: "Plan id must be a number" })
  .int("Plan id must be a whole number")
  .positive("Plan id must be positive")
  .max(Number.MAX_SAFE_INTEGER);

const fields = {
  name: z.string().trim().min(1, "Give the plan a name").max(80, "A plan name has at most 80 characters"),
  backup_type: z.enum(PLAN_BACKUP_TYPES, { error: `Choose one of ${PLAN_BACKUP_TYPES.join(", ")}` }),
  include_config: z.boolean(),
  cron: z.string().max(200, "The cron expression is too long"),
  /** IANA name; left out: the server's time zone. */
  timezone: z.string().max(100, "The time zone name is too long"),
  full_every: z
    .number()
    .int("full_every must be a whole number")
    .min(2, "full_every is at least 2 (every second run a full backup)")
    .max(100, "full_every is at most 100")
    .nullable(),
  /** Restore drill schedule; null: no drills. Left out on create: weekly, Sunday 04:00. */
  drill_cron: z.string().max(200, "The drill cron expression is too long").nullable(),
  enabled: z.boolean(),
};

type PlanValues = {
  name: string;
  backup_type: PlanBackupType;
  include_config: boolean;
  cron: string;
  timezone: string;
  full_every: number | null;
  drill_cron: string | null;
  enabled: boolean;
};

/** What is wrong with a complete set of plan values, per field (empty when nothing is). */
function planProblems(v: PlanValues): Array<{ field: keyof PlanValues; message: string }> {
  const problems: Array<{ field: keyof PlanValues; message: string }> = [];
  const zone = timezoneProblem(v.timezone);
  if (zone) problems.push({ field: "timezone", message: zone });
  const tz = canonicalTimezone(v.timezone) ?? "UTC";
  const cron = cronProblem(v.cron, tz);
  if (cron) problems.push({ field: "cron", message: cron });
  const drill = v.drill_cron === null ? null : cronProblem(v.drill_cron, tz);
  if (drill) problems.push({ field: "drill_cron", message: `Restore drill schedule: ${drill}` });
  if (v.full_every !== null && v.backup_type !== "incremental") {
    problems.push({
      field: "full_every",
      message: `full_every only applies to incremental plans (this one is ${v.backup_type}): leave it out or choose incremental.`,
    });
  }
  return problems;
}

function withDefaults(input: z.infer<typeof planInputObject>): PlanValues {
  return {
    name: input.name,
    backup_type: input.backup_type,
    include_config: input.include_config ?? false,
    cron: input.cron,
    timezone: input.timezone ?? serverTimezone(),
    full_every: input.full_every ?? null,
    drill_cron: input.drill_cron === undefined ? DEFAULT_DRILL_CRON : input.drill_cron,
    enabled: input.enabled ?? true,
  };
}

const planInputObject = z
  .object({
    name: fields.name,
    backup_type: fields.backup_type,
    include_config: fields.include_config.optional(),
    cron: fields.cron,
    timezone: fields.timezone.optional(),
    full_every: fields.full_every.optional(),
    drill_cron: fields.drill_cron.optional(),
    enabled: fields.enabled.optional(),
  })
  .strict();

const addProblems = (values: PlanValues, ctx: z.RefinementCtx) => {
  for (const p of planProblems(values)) ctx.addIssue({ code: "custom", path: [p.field], message: p.message });
};

/** A new plan (the API's snake_case fields). Checked whole: the cron in its time zone, full_every against the type. */
export const planInput = planInputObject.superRefine((input, ctx) => addProblems(withDefaults(input), ctx));
export type PlanInput = z.input<typeof planInput>;

/** A change to a plan: any subset of the fields, checked against the plan it changes. */
export const planPatch = z.object(fields).partial().strict();
export type PlanPatch = z.input<typeof planPatch>;

/** Parses with a schema; the first problem becomes a 400 naming its field (for doors that bring raw input: the CLI, REST). */
function parseOrRefuse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const where = issue.path.length ? `${issue.path.join(".")}: ` : "";
  throw new AppError("BAD_REQUEST", `${where}${issue.message}`, { details: { fieldErrors: z.flattenError(result.error).fieldErrors } });
}

function refuseProblems(values: PlanValues): void {
  const [first] = planProblems(values);
  if (first) throw new AppError("BAD_REQUEST", first.message, { details: { field: first.field } });
}

function columnsOf(v: PlanValues) {
  return {
    name: v.name,
    backupType: v.backup_type,
    includeConfig: v.include_config,
    cron: normalizeCron(v.cron),
    timezone: canonicalTimezone(v.timezone)!,
    fullEvery: v.full_every,
    drillCron: v.drill_cron === null ? null : normalizeCron(v.drill_cron),
    enabled: v.enabled,
  };
}

function valuesOf(row: BackupPlanRow): PlanValues {
  return {
    name: row.name,
    backup_type: row.backupType,
    include_config: row.includeConfig,
    cron: row.cron,
    timezone: row.timezone,
    full_every: row.fullEvery,
    drill_cron: row.drillCron,
    enabled: row.enabled,
  };
}

function assertNameFree(db: AppDatabase, name: string, exceptId?: number): void {
  const clash = db
    .select({ id: backupPlans.id, name: backupPlans.name })
    .from(backupPlans)
    .where(and(sql`lower(${backupPlans.name}) = lower(${name})`, exceptId ? ne(backupPlans.id, exceptId) : undefined))
    .get();
  if (clash) {
    throw new AppError("CONFLICT", `A backup plan named "${clash.name}" already exists (plan ${clash.id}). Choose another name.`);
  }
}

/** The unique index is the last word when two requests race past assertNameFree. */
function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string })?.code === "SQLITE_CONSTRAINT_UNIQUE";
}

export function getPlanRow(db: AppDatabase, id: number): BackupPlanRow {
  const row = db.select().from(backupPlans).where(eq(backupPlans.id, id)).get();
  if (!row) throw new AppError("NOT_FOUND", `There is no backup plan ${id}. List the plans to see their ids.`);
  return row;
}

/** A plan by id or exact name (the CLI accepts either). */
export function findPlan(db: AppDatabase, idOrName: string): BackupPlanRow {
  const byName = db.select().from(backupPlans).where(eq(backupPlans.name, idOrName)).get();
  if (byName) return byName;
  if (/^\d+$/.test(idOrName)) return getPlanRow(db, Number(idOrName));
  throw new AppError("NOT_FOUND", `There is no backup plan named "${idOrName}". List the plans to see their names and ids.`);
}

export interface PlanChangeOptions {
  db: AppDatabase;
  config: AppConfig;
  actor: Actor;
  /** When the change happens (the scheduler's clock in tests); default now. */
  now?: Date;
}

export function createPlan(opts: PlanChangeOptions & { input: PlanInput }): BackupPlanRow {
  const { db, config, actor } = opts;
  assertNoRestoreRunning(config.backupPath);
  const values = withDefaults(parseOrRefuse(planInputObject, opts.input));
  refuseProblems(values);
  assertNameFree(db, values.name);
  const now = opts.now ?? new Date();
  let row: BackupPlanRow;
  try {
    row = db
      .insert(backupPlans)
      .values({ ...columnsOf(values), createdAt: now, updatedAt: now })
      .returning()
      .get();
  } catch (err) {
    if (isUniqueViolation(err)) assertNameFree(db, values.name);
    throw err;
  }
  recordAudit(db, {
    action: "backup.plan_create",
    actor,
    resource: `plan:${row.id}`,
    success: true,
    details: { name: row.name, backup_type: row.backupType, cron: row.cron, timezone: row.timezone, enabled: row.enabled, drill_cron: row.drillCron },
  });
  return row;
}

export function updatePlan(opts: PlanChangeOptions & { id: number; patch: PlanPatch }): BackupPlanRow {
  const { db, config, actor, id } = opts;
  assertNoRestoreRunning(config.backupPath);
  const patch = parseOrRefuse(planPatch, opts.patch);
  const before = getPlanRow(db, id);
  const merged: PlanValues = { ...valuesOf(before), ...patch };
  // A plan turned from incremental into another type drops its full_every instead of being refused for it.
  if (patch.backup_type && patch.backup_type !== "incremental" && patch.full_every === undefined) merged.full_every = null;
  refuseProblems(merged);
  if (patch.name !== undefined) assertNameFree(db, merged.name, id);
  const columns = columnsOf(merged);
  const changes = Object.fromEntries(
    (Object.keys(columns) as Array<keyof typeof columns>)
      .filter((k) => columns[k] !== before[k])
      .map((k) => [k, { from: before[k], to: columns[k] }]),
  );
  if (Object.keys(changes).length === 0) return before;
  const now = opts.now ?? new Date();
  let row: BackupPlanRow | undefined;
  try {
    row = db
      .update(backupPlans)
      .set({ ...columns, ...slotsPassedByEdit(before, columns, now), updatedAt: now })
      .where(eq(backupPlans.id, id))
      .returning()
      .get();
  } catch (err) {
    if (isUniqueViolation(err)) assertNameFree(db, merged.name, id);
    throw err;
  }
  if (!row) throw new AppError("NOT_FOUND", `Backup plan ${id} was deleted meanwhile; nothing was changed.`);
  recordAudit(db, { action: "backup.plan_update", actor, resource: `plan:${id}`, success: true, details: { name: row.name, changes } });
  return row;
}

export function setPlanEnabled(opts: PlanChangeOptions & { id: number; enabled: boolean }): BackupPlanRow {
  return updatePlan({ ...opts, patch: { enabled: opts.enabled } });
}

/** Deletes a plan. Its backups stay, still naming the plan that made them. */
export function deletePlan(opts: Omit<PlanChangeOptions, "now"> & { id: number }): void {
  const { db, config, actor, id } = opts;
  assertNoRestoreRunning(config.backupPath);
  const row = getPlanRow(db, id);
  db.delete(backupPlans).where(eq(backupPlans.id, id)).run();
  recordAudit(db, { action: "backup.plan_delete", actor, resource: `plan:${id}`, success: true, details: { name: row.name, cron: row.cron } });
}

const planBackupSchema = z.object({
  id: z.number(),
  filename: z.string(),
  status: z.string(),
  backup_type: z.string(),
  created_at: z.string(),
  verify_status: z.enum(["ok", "failed"]).nullable(),
});

/** A plan as the API shows it: its settings, the schedule in words, when it runs next and how its last run went. */
export const planRecordSchema = z.object({
  id: z.number(),
  name: z.string(),
  enabled: z.boolean(),
  backup_type: z.enum(PLAN_BACKUP_TYPES),
  include_config: z.boolean(),
  cron: z.string(),
  timezone: z.string(),
  /** The schedule in words ("Daily at 03:00"), or "Custom schedule". */
  schedule_text: z.string(),
  full_every: z.number().nullable(),
  runs_since_full: z.number(),
  drill_cron: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  /** When the next backup starts (a time already passed: due, waiting for another operation to finish); null when disabled. */
  next_run_at: z.string().nullable(),
  next_drill_at: z.string().nullable(),
  last_slot_at: z.string().nullable(),
  last_run_at: z.string().nullable(),
  last_backup_id: z.number().nullable(),
  last_result: z.enum(RUN_RESULTS).nullable(),
  last_error: z.string().nullable(),
  /** The newest backups this plan made, newest first. */
  recent_backups: z.array(planBackupSchema),
});
export type PlanRecord = z.infer<typeof planRecordSchema>;

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

export function toPlanRecord(db: AppDatabase, row: BackupPlanRow, now = new Date()): PlanRecord {
  const recent = db
    .select()
    .from(backups)
    .where(eq(backups.planId, row.id))
    .orderBy(desc(backups.createdAt), desc(backups.id))
    .limit(3)
    .all();
  return {
    id: row.id,
    name: row.name,
    enabled: row.enabled,
    backup_type: row.backupType,
    include_config: row.includeConfig,
    cron: row.cron,
    timezone: row.timezone,
    schedule_text: describeCron(row.cron),
    full_every: row.fullEvery,
    runs_since_full: row.runsSinceFull,
    drill_cron: row.drillCron,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    next_run_at: iso(nextRunAt(row, now)),
    next_drill_at: iso(nextDrillAt(row, now)),
    last_slot_at: iso(row.lastSlotAt),
    last_run_at: iso(row.lastRunAt),
    last_backup_id: row.lastBackupId,
    last_result: row.lastResult,
    last_error: row.lastError,
    recent_backups: recent.map((b) => ({
      id: b.id,
      filename: b.filename,
      status: b.status,
      backup_type: b.backupType,
      created_at: b.createdAt.toISOString(),
      verify_status: b.verifyStatus,
    })),
  };
}

export function listPlanRows(db: AppDatabase): BackupPlanRow[] {
  return db.select().from(backupPlans).orderBy(backupPlans.name).all();
}

export function listPlans(db: AppDatabase, now = new Date()): PlanRecord[] {
  return listPlanRows(db).map((row) => toPlanRecord(db, row, now));
}
