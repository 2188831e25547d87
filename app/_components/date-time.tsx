"use client";
/**
 * Times in client components. The server does not know the visitor's time zone, so these
 * render a zone-neutral UTC text on the server and switch to local time once hydrated
 * (no hydration mismatch). Relative times re-render every 30 seconds.
 *
 *   <DateTime value={backup.created_at} />                  "26 Nov 2025, 10:27"
 *   <DateTime value={entry.created_at} relative />          "26 Nov 2025, 10:27 · 5 minutes ago"
 *   <RelativeTime value={token.last_used_at} />              "5 minutes ago"
 */
import { useEffect, useState, useSyncExternalStore } from "react";
import { formatDate, formatDateUtc, formatRelativeTime, toDate, type DateInput } from "@/lib/format";

const noopSubscribe = () => () => {};

/** False during server rendering and hydration, true after: gate anything zone- or clock-dependent. */
export function useHydrated(): boolean {
  return useSyncExternalStore(
    noopSubscribe,
    () => true,
    () => false,
  );
}

/** The current time in ms, refreshed every `intervalMs` (default 30 s). */
export function useNow(intervalMs = 30_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), intervalMs);
    return () => window.clearInterval(timer);
  }, [intervalMs]);
  return now;
}

export function DateTime({
  value,
  relative = false,
  seconds = false,
  stacked = false,
  className,
}: {
  value: DateInput;
  /** Also show "5 minutes ago". */
  relative?: boolean;
  seconds?: boolean;
  /** Put the relative time on its own line (for table cells). */
  stacked?: boolean;
  className?: string;
}) {
  const hydrated = useHydrated();
  const date = toDate(value);
  const iso = Number.isNaN(date.getTime()) ? undefined : date.toISOString();
  const absolute = hydrated ? formatDate(date, { seconds }) : formatDateUtc(date);
  return (
    <time dateTime={iso} className={className} title={hydrated ? formatDate(date, { seconds: true }) : iso}>
      {absolute}
      {relative && hydrated ? (
        stacked ? (
          <span className="time-relative-block">
            <RelativeTime value={date} />
          </span>
        ) : (
          <span className="time-relative">
            {" · "}
            <RelativeTime value={date} />
          </span>
        )
      ) : null}
    </time>
  );
}

export function RelativeTime({ value }: { value: DateInput }) {
  const hydrated = useHydrated();
  const now = useNow();
  if (!hydrated) return <>{formatDateUtc(value)}</>;
  return <>{formatRelativeTime(value, now)}</>;
}
