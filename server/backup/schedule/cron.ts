/**
 * Cron expressions and time zones for backup plans: parsed and evaluated by croner, never
 * by hand. A plan's expression has the five standard fields (minute hour day month
 * weekday), read in an IANA time zone, so "0 3 * * *" in Europe/Berlin is 03:00 Berlin time
 * in summer and in winter; croner decides what a DST change does to a run (a fixed time
 * that falls into the spring gap runs right after it, and once in the autumn overlap).
 *
 * Every function here is pure: the caller passes the instant to compute from, which is how
 * the scheduler's injected clock reaches the schedule.
 */
import { Cron } from "croner";
import { AppError } from "../../errors";

export const CRON_EXAMPLE = `"0 3 * * *" (every day at 03:00) or "0 */6 * * *" (every 6 hours)`;

/** Spaces tidied, so "0  3 * * * " and "0 3 * * *" are stored (and compared) alike. */
export function normalizeCron(expression: string): string {
  return expression.trim().split(/\s+/).join(" ");
}

/** The canonical name of an IANA time zone ("europe/berlin" → "Europe/Berlin"), or null if there is none. */
export function canonicalTimezone(timezone: string): string | null {
  if (!timezone.trim()) return null;
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: timezone.trim() }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

/** The time zone of this server, for plans and previews that do not name one. */
export function serverTimezone(): string {
  return canonicalTimezone(Intl.DateTimeFormat().resolvedOptions().timeZone ?? "") ?? "UTC";
}

export function timezoneProblem(timezone: string): string | null {
  return canonicalTimezone(timezone)
    ? null
    : `"${timezone}" is not a time zone this server knows. Use an IANA name such as "Europe/Berlin", "America/New_York" or "UTC".`;
}

function build(expression: string, timezone: string): Cron {
  return new Cron(normalizeCron(expression), { timezone, paused: true, mode: "5-part" });
}

/** Why an expression cannot be used (quoting it, with an example), or null when it can. */
export function cronProblem(expression: string, timezone = "UTC", from = new Date()): string | null {
  const expr = normalizeCron(expression);
  if (!expr) return `The schedule is empty. Enter a cron expression such as ${CRON_EXAMPLE}.`;
  let cron: Cron;
  try {
    cron = build(expr, timezone);
  } catch (err) {
    const reason = err instanceof Error ? err.message.replace(/^CronPattern: /, "") : String(err);
    return `"${expr}" is not a valid cron expression (${reason}). Use five fields, minute hour day month weekday, e.g. ${CRON_EXAMPLE}.`;
  }
  if (cron.nextRun(from) === null) {
    return `"${expr}" never runs (no date matches it, like the 30th of February). Use e.g. ${CRON_EXAMPLE}.`;
  }
  return null;
}

/** A usable schedule: the expression and zone checked, or an AppError (400) that says what is wrong. */
function checkedCron(expression: string, timezone: string, from: Date): Cron {
  const problem = timezoneProblem(timezone) ?? cronProblem(expression, timezone, from);
  if (problem) throw new AppError("BAD_REQUEST", problem);
  return build(expression, canonicalTimezone(timezone)!);
}

/** The next `n` run times after `from`, as ISO strings, for the UI to show before a plan is saved. */
export function previewRuns(cron: string, timezone: string, n = 5, from = new Date()): string[] {
  return checkedCron(cron, timezone, from)
    .nextRuns(n, from)
    .map((d) => d.toISOString());
}

/** The newest scheduled time at or before `now` (null if the schedule has none). */
export function newestSlotAtOrBefore(cron: string, timezone: string, now: Date): Date | null {
  // previousRuns leaves out a run at exactly the reference instant; one millisecond later it is "earlier".
  return build(cron, timezone).previousRuns(1, new Date(now.getTime() + 1))[0] ?? null;
}

/** The first scheduled time after `after`. */
export function nextSlotAfter(cron: string, timezone: string, after: Date): Date | null {
  return build(cron, timezone).nextRun(after);
}

const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const NICKNAMES: Record<string, string> = {
  "@hourly": "0 * * * *",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@weekly": "0 0 * * 0",
  "@monthly": "0 0 1 * *",
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
};

const isNumber = (s: string) => /^\d{1,2}$/.test(s);
const pad = (s: string) => s.padStart(2, "0");

/**
 * The schedule in words for the common shapes ("Daily at 03:00", "Every 6 hours at :00",
 * "Weekly on Sunday at 03:00"); anything else is "Custom schedule" and the UI shows the
 * expression beside it.
 */
export function describeCron(expression: string): string {
  const expr = NICKNAMES[normalizeCron(expression).toLowerCase()] ?? normalizeCron(expression);
  const [minute = "", hour = "", day = "", month = "", weekday = ""] = expr.split(" ");
  if (!isNumber(minute) || month !== "*") return "Custom schedule";
  const at = isNumber(hour) ? `${pad(hour)}:${pad(minute)}` : null;
  if (day === "*" && weekday === "*") {
    if (hour === "*") return minute === "0" ? "Every hour" : `Every hour at :${pad(minute)}`;
    const step = /^\*\/(\d{1,2})$/.exec(hour)?.[1];
    if (step) return `Every ${step} hours at :${pad(minute)}`;
    if (at) return `Daily at ${at}`;
  }
  if (at && day === "*" && /^[0-7]$/.test(weekday)) return `Weekly on ${WEEKDAYS[Number(weekday)]} at ${at}`;
  if (at && day === "*" && weekday === "1-5") return `Weekdays at ${at}`;
  if (at && isNumber(day) && weekday === "*") return `Monthly on day ${Number(day)} at ${at}`;
  const daysStep = /^\*\/(\d{1,2})$/.exec(day)?.[1];
  if (at && daysStep && weekday === "*") return `Every ${daysStep} days at ${at}`;
  return "Custom schedule";
}
