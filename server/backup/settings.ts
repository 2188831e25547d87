/**
 * Retention settings in effect: an admin's saved value (settings table) wins over the
 * environment (NAS_BACKUP_MAX_COUNT, NAS_BACKUP_RETENTION_DAYS), which wins over the
 * built-in default. Each value says where it came from, so the UI can show it. The GFS
 * rules (keep the newest backup of each of the last N days / weeks / months) have no
 * environment variable: they are off (0) until an admin sets them.
 */
import { eq } from "drizzle-orm";
import { z } from "zod";
import type { AppDatabase } from "@/db/client";
import { settings } from "@/db/schema";
import type { AppConfig } from "../config";

export const RETENTION_KEYS = {
  maxCount: "backup.max_count",
  retentionDays: "backup.retention_days",
  keepDaily: "backup.keep_daily",
  keepWeekly: "backup.keep_weekly",
  keepMonthly: "backup.keep_monthly",
} as const;

export type RetentionRule = keyof typeof RETENTION_KEYS;

/** The environment variable behind a rule, where there is one. */
export const RETENTION_ENV: Partial<Record<RetentionRule, string>> = {
  maxCount: "NAS_BACKUP_MAX_COUNT",
  retentionDays: "NAS_BACKUP_RETENTION_DAYS",
};

const gfs = (what: string) =>
  z.number().int("Must be a whole number").min(0, `Use 0 to switch off keeping ${what} backups`).max(3650).default(0);

export const retentionInput = z.object({
  max_count: z.number().int("Must be a whole number").min(1, "Keep at least 1 backup").max(10000),
  retention_days: z.number().int("Must be a whole number").min(1, "Keep backups at least 1 day").max(36500),
  keep_daily: gfs("daily"),
  keep_weekly: gfs("weekly"),
  keep_monthly: gfs("monthly"),
});

export type RetentionInput = z.input<typeof retentionInput>;

export type RetentionSource = "settings" | "environment" | "default";

export interface RetentionRules {
  maxCount: number;
  retentionDays: number;
  keepDaily: number;
  keepWeekly: number;
  keepMonthly: number;
}

export interface RetentionSettings extends RetentionRules {
  sources: Record<RetentionRule, RetentionSource>;
}

function saved(db: AppDatabase, key: string): number | null {
  const row = db.select().from(settings).where(eq(settings.key, key)).get();
  const value = row ? Number(row.value) : NaN;
  return Number.isInteger(value) && value >= 0 ? value : null;
}

export function getRetentionSettings(db: AppDatabase, config: AppConfig, env = process.env): RetentionSettings {
  const fallback: RetentionRules = {
    maxCount: config.backupMaxCount,
    retentionDays: config.backupRetentionDays,
    keepDaily: 0,
    keepWeekly: 0,
    keepMonthly: 0,
  };
  const result = { ...fallback, sources: {} as Record<RetentionRule, RetentionSource> };
  for (const rule of Object.keys(RETENTION_KEYS) as RetentionRule[]) {
    const value = saved(db, RETENTION_KEYS[rule]);
    // max count and days are at least 1: a stored 0 is not a value for them.
    const usable = value !== null && (value > 0 || rule.startsWith("keep"));
    const envName = RETENTION_ENV[rule];
    result[rule] = usable ? value : fallback[rule];
    result.sources[rule] = usable ? "settings" : envName && env[envName] ? "environment" : "default";
  }
  return result;
}

/** The rules a (validated) input asks for. */
export function rulesOf(input: RetentionInput): RetentionRules {
  const parsed = retentionInput.parse(input);
  return {
    maxCount: parsed.max_count,
    retentionDays: parsed.retention_days,
    keepDaily: parsed.keep_daily,
    keepWeekly: parsed.keep_weekly,
    keepMonthly: parsed.keep_monthly,
  };
}

export function saveRetentionSettings(db: AppDatabase, input: RetentionInput): void {
  const rules = rulesOf(input);
  const now = new Date();
  db.transaction((tx) => {
    for (const rule of Object.keys(RETENTION_KEYS) as RetentionRule[]) {
      const value = String(rules[rule]);
      tx.insert(settings)
        .values({ key: RETENTION_KEYS[rule], value, updatedAt: now })
        .onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: now } })
        .run();
    }
  });
}
