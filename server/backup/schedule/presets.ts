/**
 * The schedules a plan can start from, and the default drill schedule. Plain constants
 * with no imports, so the plan dialog (a client component) can use them without pulling
 * server code into the browser bundle.
 */

/** Schedules the UI offers before "Custom cron". */
export const PLAN_PRESETS = [
  { id: "hourly", label: "Hourly", cron: "0 * * * *" },
  { id: "daily", label: "Daily at 03:00", cron: "0 3 * * *" },
  { id: "weekly", label: "Weekly (Sunday 03:00)", cron: "0 3 * * 0" },
] as const;

/** A new plan tests its backups by a restore drill every Sunday at 04:00 unless told otherwise. */
export const DEFAULT_DRILL_CRON = "0 4 * * 0";
