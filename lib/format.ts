/**
 * Pure formatting helpers for the UI: sizes, dates, relative times, durations, counts.
 * No React, no DOM: usable in server and client components and in tests.
 *
 * Dates are formatted in the runtime's locale and time zone. On the server that is the
 * server's zone, not the visitor's; a client component rendered on the server would then
 * hydrate with a different text. To show a time in a client component, use <DateTime> from
 * app/_components/date-time, which renders a zone-neutral text on the server and the local one after
 * hydration.
 */

/** Anything a date can be given as: a Date, an ISO string (as the API sends), or epoch ms. */
export type DateInput = Date | string | number;

export function toDate(value: DateInput): Date {
  return value instanceof Date ? value : new Date(value);
}

const BINARY_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const;
const DECIMAL_UNITS = ["B", "kB", "MB", "GB", "TB", "PB"] as const;

/**
 * A byte count for people: `formatBytes(1536)` → "1.5 KiB".
 * Binary (1024-based, IEC units) by default, as `df -h` and `du -h` count;
 * `{ decimal: true }` uses 1000-based SI units ("1.5 kB").
 * Whole bytes are never given decimals; `decimals` caps the fraction digits of larger units.
 */
export function formatBytes(bytes: number, options: { decimals?: number; decimal?: boolean } = {}): string {
  if (!Number.isFinite(bytes)) return "–";
  const base = options.decimal ? 1000 : 1024;
  const units = options.decimal ? DECIMAL_UNITS : BINARY_UNITS;
  const sign = bytes < 0 ? "-" : "";
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= base && unit < units.length - 1) {
    value /= base;
    unit += 1;
  }
  const digits = unit === 0 ? 0 : (options.decimals ?? 1);
  const text = new Intl.NumberFormat("en", { maximumFractionDigits: digits }).format(value);
  return `${sign}${text} ${units[unit]}`;
}

/**
 * A date and time in the current locale and zone: "26 Nov 2025, 10:27".
 * `{ time: false }` gives the date only; `{ seconds: true }` adds seconds.
 */
export function formatDate(value: DateInput, options: { time?: boolean; seconds?: boolean } = {}): string {
  const date = toDate(value);
  if (Number.isNaN(date.getTime())) return "–";
  if (options.time === false) return new Intl.DateTimeFormat(undefined, { dateStyle: "medium" }).format(date);
  return new Intl.DateTimeFormat(undefined, {
    dateStyle: "medium",
    timeStyle: options.seconds ? "medium" : "short",
  }).format(date);
}

/**
 * A zone-independent text of a date, "2025-11-26 10:27 UTC": the same on server and client,
 * so it is safe to render before hydration.
 */
export function formatDateUtc(value: DateInput): string {
  const date = toDate(value);
  if (Number.isNaN(date.getTime())) return "–";
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

const RELATIVE_STEPS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ["second", 60],
  ["minute", 60],
  ["hour", 24],
  ["day", 7],
  ["week", 4.35],
  ["month", 12],
  ["year", Number.POSITIVE_INFINITY],
];

/**
 * How long ago (or how far ahead) a date is: "just now", "5 minutes ago", "yesterday",
 * "in 3 hours". `now` is injectable for tests and for components that tick.
 */
export function formatRelativeTime(value: DateInput, now: number = Date.now()): string {
  const date = toDate(value);
  if (Number.isNaN(date.getTime())) return "–";
  let delta = (date.getTime() - now) / 1000;
  if (Math.abs(delta) < 45) return "just now";
  const rtf = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
  for (const [unit, size] of RELATIVE_STEPS) {
    if (Math.abs(delta) < size) return rtf.format(Math.round(delta), unit);
    delta /= size;
  }
  return formatDate(date, { time: false });
}

/** A duration for people: "850 ms", "12 s", "4 min 5 s", "1 h 5 min", "2 d 3 h". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const totalSeconds = Math.round(ms / 1000);
  if (totalSeconds < 60) return `${totalSeconds} s`;
  const days = Math.floor(totalSeconds / 86400);
  const hours = Math.floor((totalSeconds % 86400) / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (days > 0) return hours ? `${days} d ${hours} h` : `${days} d`;
  if (hours > 0) return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
  return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`;
}

/** A whole number with grouping: 12345 → "12,345". */
export function formatCount(value: number): string {
  return new Intl.NumberFormat("en").format(value);
}

/** "1 backup", "3 backups": the count and the noun, singular or plural. */
export function pluralize(count: number, singular: string, plural = `${singular}s`): string {
  return `${formatCount(count)} ${count === 1 ? singular : plural}`;
}

/**
 * A long machine name cut into the pieces a line may break between: after each "_", "."
 * "-" or "/" (`backup_20261201_030000.tar.gz` → ["backup_", "20261201_", "030000.", "tar.", "gz"]).
 * The UI joins them with <wbr>, so names wrap at a separator, not in the middle of a word.
 */
export function breakableParts(text: string): string[] {
  return text.match(/[^_./-]*(?:[_./-]+|$)/g)?.filter((part) => part.length > 0) ?? [];
}

/**
 * An address for people: an IPv4 address that reached an IPv6 socket ("::ffff:192.0.2.7")
 * is shown as the IPv4 address it is ("192.0.2.7"); anything else as it came.
 */
export function formatIp(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip.trim());
  return mapped ? mapped[1]! : ip.trim();
}
