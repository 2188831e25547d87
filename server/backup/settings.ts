/**
 * Retention settings in effect: an admin's saved value (settings table) wins over the
 * environment (NAS_BACKUP_MAX_COUNT, NAS_BACKUP_RETENTION_DAYS), which wins over the
 * built-in default. Each value says where it came from, so the UI can show it.
 */
import { eq } from "drizzle-orm";
import { z } from "zod";
import type { AppDatabase } from "@/db/client";
import { settings } from "@/db/schema";
import type { AppConfig } from "../config";

export const RETENTION_KEYS = {
  maxCount: "backup.max_count",
  retentionDays: "backup.retention_days",
} as const;

export const retentionInput = z.object({
  max_count: z.number().int("Must be a whole number").min(1, "Keep at least 1 backup").max(10000),
  retention_days: z.number().int("Must be a whole number").min(1, "Keep backups at least 1 day").max(36500),
});

export type RetentionSource = "settings" | "environment" | "default";

export interface RetentionSettings {
  maxCount: number;
  retentionDays: number;
  sources: { maxCount: RetentionSource; retentionDays: RetentionSource };
}

function saved(db: AppDatabase, key: string): number | null {
  const row = db.select().from(settings).where(eq(settings.key, key)).get();
  const value = row ? Number(row.value) : NaN;
  return Number.isInteger(value) && value > 0 ? value : null;
}

export function getRetentionSettings(db: AppDatabase, config: AppConfig, env = process.env): RetentionSettings {
  const maxCount = saved(db, RETENTION_KEYS.maxCount);
  const retentionDays = saved(db, RETENTION_KEYS.retentionDays);
  const envSource = (name: string): RetentionSource => (env[name] ? "environment" : "default");
  return {
    maxCount: maxCount ?? config.backupMaxCount,
    retentionDays: retentionDays ?? config.backupRetentionDays,
    sources: {
      maxCount: maxCount !== null ? "settings" : envSource("NAS_BACKUP_MAX_COUNT"),
      retentionDays: retentionDays !== null ? "settings" : envSource("NAS_BACKUP_RETENTION_DAYS"),
    },
  };
}

export function saveRetentionSettings(db: AppDatabase, input: z.infer<typeof retentionInput>): void {
  const now = new Date();
  db.transaction((tx) => {
    for (const [key, value] of [
      [RETENTION_KEYS.maxCount, input.max_count],
      [RETENTION_KEYS.retentionDays, input.retention_days],
    ] as const) {
      tx.insert(settings)
        .values({ key, value: String(value), updatedAt: now })
        .onConflictDoUpdate({ target: settings.key, set: { value: String(value), updatedAt: now } })
        .run();
    }
  });
}
