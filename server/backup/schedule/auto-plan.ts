/**
 * Automatic backups for a headless install, from the environment, as the original BaluHost
 * configures them: BACKUP_AUTO_ENABLED (true/false, default false),
 * BACKUP_AUTO_INTERVAL_HOURS (1–168, default 24) and BACKUP_AUTO_TYPE (full, incremental,
 * database_only or files_only; default full, as in the original).
 *
 * The environment only seeds: when automatic backups are enabled and no plan exists, the
 * first start creates the plan "Automatic backup" and records in the settings table that
 * it did. From then on the plans are the admin's: editing or deleting them is final, the
 * environment never creates the plan again.
 *
 * Cron has no "every N hours" that crosses midnight, so the interval becomes the nearest
 * schedule cron can express that never runs less often than asked: N hours when N divides
 * 24 ("0 *\/N * * *"), else the largest divisor of 24 below N (5 → every 4 hours); beyond a
 * day, every d = floor(N / 24) days at midnight ("0 0 *\/d * *", restarting on the 1st of
 * each month), and 168 hours is weekly (Sunday at midnight). The log says when it rounded.
 */
import { eq } from "drizzle-orm";
import { z } from "zod";
import type { AppDatabase } from "@/db/client";
import { backupPlans, PLAN_BACKUP_TYPES, settings, type BackupPlanRow, type PlanBackupType } from "@/db/schema";
import { recordAudit, SYSTEM_ACTOR } from "../../audit";
import { ConfigError } from "../../config";
import { serverTimezone } from "./cron";
import { DEFAULT_DRILL_CRON } from "./plans";

export const AUTO_PLAN_NAME = "Automatic backup";
/** Set once the environment's plan was created (or found unnecessary): it is never created again. */
export const AUTO_PLAN_SEEDED_KEY = "backup.auto_plan_seeded";
/** An incremental automatic plan makes every 7th backup a full one, so a restore never needs a long chain. */
const AUTO_INCREMENTAL_FULL_EVERY = 7;

export interface AutoBackupSettings {
  enabled: boolean;
  intervalHours: number;
  type: PlanBackupType;
}

const autoSchema = z.object({
  BACKUP_AUTO_ENABLED: z
    .string()
    .trim()
    .toLowerCase()
    .refine((v) => ["true", "false", "1", "0"].includes(v), "BACKUP_AUTO_ENABLED must be true or false")
    .transform((v) => v === "true" || v === "1")
    .default(false),
  BACKUP_AUTO_INTERVAL_HOURS: z.coerce
    .number({ error: "BACKUP_AUTO_INTERVAL_HOURS must be a whole number of hours" })
    .int("BACKUP_AUTO_INTERVAL_HOURS must be a whole number of hours")
    .min(1, "BACKUP_AUTO_INTERVAL_HOURS must be at least 1")
    .max(168, "BACKUP_AUTO_INTERVAL_HOURS must be at most 168 (a week)")
    .default(24),
  BACKUP_AUTO_TYPE: z
    .enum(PLAN_BACKUP_TYPES, { error: `BACKUP_AUTO_TYPE must be one of ${PLAN_BACKUP_TYPES.join(", ")}` })
    .default("full"),
});

/** Reads and checks the BACKUP_AUTO_* variables; a bad value throws a ConfigError naming the variable. */
export function parseAutoBackupEnv(env: Record<string, string | undefined>): AutoBackupSettings {
  const picked = Object.fromEntries(Object.keys(autoSchema.shape).map((k) => [k, env[k] === "" ? undefined : env[k]]));
  const result = autoSchema.safeParse(picked);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${String(issue.path[0])}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const c = result.data;
  return { enabled: c.BACKUP_AUTO_ENABLED, intervalHours: c.BACKUP_AUTO_INTERVAL_HOURS, type: c.BACKUP_AUTO_TYPE };
}

/** The cron schedule for "every N hours" (see the header), and whether it is exact. */
export function intervalCron(hours: number): { cron: string; everyHours: number; exact: boolean } {
  if (hours >= 168) return { cron: "0 0 * * 0", everyHours: 168, exact: hours === 168 };
  if (hours > 24) {
    const days = Math.floor(hours / 24);
    // A day step restarts on the 1st of each month, so even 48 hours is not exact.
    return { cron: days === 1 ? "0 0 * * *" : `0 0 */${days} * *`, everyHours: days * 24, exact: false };
  }
  const step = [24, 12, 8, 6, 4, 3, 2, 1].find((d) => d <= hours)!;
  return { cron: step === 24 ? "0 0 * * *" : step === 1 ? "0 * * * *" : `0 */${step} * * *`, everyHours: step, exact: step === hours };
}

/**
 * Creates the environment's plan on the first start that asks for it; returns it, or null
 * when nothing was created (disabled, already seeded once, or the admin has plans).
 * Safe against two processes starting at once: one immediate transaction decides.
 */
export function seedAutoPlan(opts: { db: AppDatabase; env: Record<string, string | undefined>; now?: Date }): BackupPlanRow | null {
  const auto = parseAutoBackupEnv(opts.env);
  if (!auto.enabled) return null;
  const { db } = opts;
  const now = opts.now ?? new Date();
  const schedule = intervalCron(auto.intervalHours);
  const created = db.transaction(
    (tx) => {
      if (tx.select().from(settings).where(eq(settings.key, AUTO_PLAN_SEEDED_KEY)).get()) return null;
      const hasPlans = tx.select({ id: backupPlans.id }).from(backupPlans).limit(1).get();
      const row = hasPlans
        ? null
        : tx
            .insert(backupPlans)
            .values({
              name: AUTO_PLAN_NAME,
              backupType: auto.type,
              includeConfig: false,
              cron: schedule.cron,
              timezone: serverTimezone(),
              fullEvery: auto.type === "incremental" ? AUTO_INCREMENTAL_FULL_EVERY : null,
              drillCron: DEFAULT_DRILL_CRON,
              enabled: true,
              createdAt: now,
              updatedAt: now,
            })
            .returning()
            .get();
      // Marked even when the admin already had plans: theirs stay theirs, and deleting them later brings none back.
      tx.insert(settings).values({ key: AUTO_PLAN_SEEDED_KEY, value: row ? `plan:${row.id}` : "existing plans", updatedAt: now }).run();
      return row;
    },
    { behavior: "immediate" },
  );
  if (!created) return null;
  if (!schedule.exact) {
    console.warn(
      `[scheduler] BACKUP_AUTO_INTERVAL_HOURS=${auto.intervalHours} is not a schedule cron can express; ` +
        `the plan "${AUTO_PLAN_NAME}" runs every ${schedule.everyHours} hours instead ("${schedule.cron}"). Edit it in Settings → Backup.`,
    );
  }
  recordAudit(db, {
    action: "backup.plan_create",
    actor: SYSTEM_ACTOR,
    resource: `plan:${created.id}`,
    success: true,
    details: {
      name: created.name,
      backup_type: created.backupType,
      cron: created.cron,
      timezone: created.timezone,
      from_environment: { BACKUP_AUTO_INTERVAL_HOURS: auto.intervalHours, BACKUP_AUTO_TYPE: auto.type },
    },
  });
  return created;
}
