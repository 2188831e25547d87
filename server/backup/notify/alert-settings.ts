/**
 * Alert settings, stored in the settings table like retention (server/backup/settings.ts):
 *   - notify.no_backup_hours: the dead man's switch. No successful backup made here for
 *     this many hours opens a no_recent_backup alert (default 48: a daily plan may miss
 *     one night without paging anyone; 0 = off).
 *   - notify.disk_free_min_percent: free space on the backup volume below this percentage
 *     opens a disk_low alert (default 10; 0 = off).
 *   - notify.retention_deleted: announce what retention deleted (default on; a channel
 *     still has to subscribe to retention_deleted to receive it).
 */
import { inArray } from "drizzle-orm";
import { z } from "zod";
import type { AppDatabase } from "@/db/client";
import { settings } from "@/db/schema";

export const ALERT_SETTING_KEYS = {
  noBackupHours: "notify.no_backup_hours",
  diskFreeMinPercent: "notify.disk_free_min_percent",
  retentionDeleted: "notify.retention_deleted",
} as const;

export const DEFAULT_NO_BACKUP_HOURS = 48;
export const DEFAULT_DISK_FREE_MIN_PERCENT = 10;

export const alertSettingsSchema = z.object({
  no_backup_hours: z.number().int("Must be a whole number of hours").min(0, "Use 0 to switch the alert off").max(8760, "At most 8760 hours (a year)"),
  disk_free_min_percent: z.number().int("Must be a whole number").min(0, "Use 0 to switch the alert off").max(90, "At most 90 %"),
  notify_retention_deleted: z.boolean(),
});
export type AlertSettings = z.output<typeof alertSettingsSchema>;

export function getAlertSettings(db: AppDatabase): AlertSettings {
  const rows = db.select().from(settings).where(inArray(settings.key, Object.values(ALERT_SETTING_KEYS))).all();
  const saved = new Map(rows.map((r) => [r.key, r.value]));
  const int = (key: string, fallback: number) => {
    const n = Number(saved.get(key));
    return saved.has(key) && Number.isInteger(n) && n >= 0 ? n : fallback;
  };
  return {
    no_backup_hours: int(ALERT_SETTING_KEYS.noBackupHours, DEFAULT_NO_BACKUP_HOURS),
    disk_free_min_percent: int(ALERT_SETTING_KEYS.diskFreeMinPercent, DEFAULT_DISK_FREE_MIN_PERCENT),
    notify_retention_deleted: saved.get(ALERT_SETTING_KEYS.retentionDeleted) !== "false",
  };
}

export function saveAlertSettings(db: AppDatabase, input: AlertSettings): AlertSettings {
  const parsed = alertSettingsSchema.parse(input);
  const now = new Date();
  const values: Array<[string, string]> = [
    [ALERT_SETTING_KEYS.noBackupHours, String(parsed.no_backup_hours)],
    [ALERT_SETTING_KEYS.diskFreeMinPercent, String(parsed.disk_free_min_percent)],
    [ALERT_SETTING_KEYS.retentionDeleted, String(parsed.notify_retention_deleted)],
  ];
  db.transaction((tx) => {
    for (const [key, value] of values) {
      tx.insert(settings).values({ key, value, updatedAt: now }).onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: now } }).run();
    }
  });
  return getAlertSettings(db);
}
