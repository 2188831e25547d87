import { describe, expect, it } from "vitest";
import { ConfigError } from "@/server/config";
import { AppError } from "@/server/errors";
import { intervalCron, parseAutoBackupEnv } from "@/server/backup/schedule/auto-plan";
import {
  canonicalTimezone,
  cronProblem,
  describeCron,
  newestSlotAtOrBefore,
  normalizeCron,
  previewRuns,
  timezoneProblem,
} from "@/server/backup/schedule/cron";
import { PLAN_PRESETS } from "@/server/backup/schedule/plans";

describe("cron validation", () => {
  it("accepts the presets", () => {
    for (const preset of PLAN_PRESETS) expect(cronProblem(preset.cron)).toBeNull();
  });

  it("refuses an out-of-range field, quoting the expression and giving an example", () => {
    const problem = cronProblem("61 3 * * *");
    expect(problem).toContain(`"61 3 * * *" is not a valid cron expression`);
    expect(problem).toMatch(/minute/);
    expect(problem).toContain(`"0 3 * * *"`);
  });

  it("refuses an expression with the wrong number of fields", () => {
    expect(cronProblem("0 3 * *")).toContain(`"0 3 * *" is not a valid cron expression`);
  });

  it("refuses six fields (seconds): plans are five-field cron", () => {
    expect(cronProblem("0 0 3 * * *")).toMatch(/not a valid cron expression/);
  });

  it("refuses an empty expression", () => {
    expect(cronProblem("   ")).toMatch(/The schedule is empty/);
  });

  it("refuses an expression that never runs", () => {
    expect(cronProblem("0 0 30 2 *")).toMatch(/"0 0 30 2 \*" never runs/);
  });

  it("tidies spaces", () => {
    expect(normalizeCron("  0   3 * *  * ")).toBe("0 3 * * *");
  });
});

describe("time zones", () => {
  it("knows IANA names and returns their canonical spelling", () => {
    expect(canonicalTimezone("europe/berlin")).toBe("Europe/Berlin");
    expect(timezoneProblem("UTC")).toBeNull();
  });

  it("refuses an unknown zone with an example of a good one", () => {
    expect(timezoneProblem("Mars/Olympus")).toMatch(/"Mars\/Olympus" is not a time zone.*Europe\/Berlin/);
  });
});

describe("previewRuns", () => {
  it("lists the next five runs of a daily plan in its time zone across the spring DST change", () => {
    // Berlin moves from UTC+1 to UTC+2 on 30 March 2025: 03:00 local is 02:00 UTC before, 01:00 UTC after.
    expect(previewRuns("0 3 * * *", "Europe/Berlin", 5, new Date("2025-03-28T12:00:00Z"))).toEqual([
      "2025-03-29T02:00:00.000Z",
      "2025-03-30T01:00:00.000Z",
      "2025-03-31T01:00:00.000Z",
      "2025-04-01T01:00:00.000Z",
      "2025-04-02T01:00:00.000Z",
    ]);
  });

  it("runs a time that falls into the spring gap once, right after the gap", () => {
    // 02:30 does not exist in Berlin on 30 March 2025 (02:00 jumps to 03:00).
    expect(previewRuns("30 2 * * *", "Europe/Berlin", 3, new Date("2025-03-29T00:00:00Z"))).toEqual([
      "2025-03-29T01:30:00.000Z",
      "2025-03-30T01:00:00.000Z",
      "2025-03-31T00:30:00.000Z",
    ]);
  });

  it("runs a time that occurs twice in autumn once", () => {
    // 02:30 happens twice in Berlin on 26 October 2025.
    expect(previewRuns("30 2 * * *", "Europe/Berlin", 3, new Date("2025-10-25T00:00:00Z"))).toEqual([
      "2025-10-25T00:30:00.000Z",
      "2025-10-26T00:30:00.000Z",
      "2025-10-27T01:30:00.000Z",
    ]);
  });

  it("is a 400 for a bad expression", () => {
    expect(() => previewRuns("every day", "UTC")).toThrow(AppError);
    try {
      previewRuns("every day", "UTC");
    } catch (err) {
      expect((err as AppError).httpStatus).toBe(400);
      expect((err as AppError).message).toContain(`"every day"`);
    }
  });

  it("is a 400 for a bad time zone", () => {
    expect(() => previewRuns("0 3 * * *", "Nowhere/Town")).toThrow(/"Nowhere\/Town" is not a time zone/);
  });
});

describe("newestSlotAtOrBefore", () => {
  it("includes a slot at exactly the given instant", () => {
    expect(newestSlotAtOrBefore("0 3 * * *", "UTC", new Date("2030-01-02T03:00:00Z"))?.toISOString()).toBe("2030-01-02T03:00:00.000Z");
  });

  it("gives the newest of several past slots", () => {
    expect(newestSlotAtOrBefore("0 * * * *", "UTC", new Date("2030-01-02T05:59:59Z"))?.toISOString()).toBe("2030-01-02T05:00:00.000Z");
  });
});

describe("describeCron", () => {
  it.each([
    ["0 * * * *", "Every hour"],
    ["15 * * * *", "Every hour at :15"],
    ["0 3 * * *", "Daily at 03:00"],
    ["0 3 * * 0", "Weekly on Sunday at 03:00"],
    ["30 22 * * 5", "Weekly on Friday at 22:30"],
    ["0 */6 * * *", "Every 6 hours at :00"],
    ["0 2 1 * *", "Monthly on day 1 at 02:00"],
    ["0 9 * * 1-5", "Weekdays at 09:00"],
    ["@daily", "Daily at 00:00"],
    ["0 3 * 6 *", "Custom schedule"],
  ])("%s is %s", (cron, words) => {
    expect(describeCron(cron)).toBe(words);
  });
});

describe("automatic backups from the environment", () => {
  it("is off by default, every 24 hours, full", () => {
    expect(parseAutoBackupEnv({})).toEqual({ enabled: false, intervalHours: 24, type: "full" });
  });

  it("reads the three variables", () => {
    expect(parseAutoBackupEnv({ BACKUP_AUTO_ENABLED: "TRUE", BACKUP_AUTO_INTERVAL_HOURS: "6", BACKUP_AUTO_TYPE: "incremental" })).toEqual({
      enabled: true,
      intervalHours: 6,
      type: "incremental",
    });
  });

  it.each([
    [{ BACKUP_AUTO_ENABLED: "yes please" }, "BACKUP_AUTO_ENABLED: BACKUP_AUTO_ENABLED must be true or false"],
    [{ BACKUP_AUTO_INTERVAL_HOURS: "0" }, "BACKUP_AUTO_INTERVAL_HOURS must be at least 1"],
    [{ BACKUP_AUTO_INTERVAL_HOURS: "169" }, "BACKUP_AUTO_INTERVAL_HOURS must be at most 168"],
    [{ BACKUP_AUTO_INTERVAL_HOURS: "2.5" }, "BACKUP_AUTO_INTERVAL_HOURS must be a whole number"],
    [{ BACKUP_AUTO_TYPE: "config_only" }, "BACKUP_AUTO_TYPE must be one of full, incremental, database_only, files_only"],
  ])("refuses %o naming the variable", (env, message) => {
    expect(() => parseAutoBackupEnv(env)).toThrow(ConfigError);
    expect(() => parseAutoBackupEnv(env)).toThrow(message);
  });

  it.each([
    [1, "0 * * * *", 1, true],
    [6, "0 */6 * * *", 6, true],
    [24, "0 0 * * *", 24, true],
    [5, "0 */4 * * *", 4, false],
    [10, "0 */8 * * *", 8, false],
    [36, "0 0 * * *", 24, false],
    // Day steps restart on the 1st of each month: never longer than asked, but not exact.
    [48, "0 0 */2 * *", 48, false],
    [168, "0 0 * * 0", 168, true],
  ])("every %i hours is %s", (hours, cron, everyHours, exact) => {
    expect(intervalCron(hours)).toEqual({ cron, everyHours, exact });
  });
});
