"use client";
/**
 * The one backup fact every user sees: when their files were last backed up, from
 * `account.lastFilesBackup` (the newest completed backup that includes the files).
 * Relative and local times need the visitor's clock and zone, so they appear after
 * hydration; the server renders the UTC time.
 */
import { formatDate, formatDateUtc } from "@/lib/format";
import { RelativeTime, useHydrated } from "./date-time";

export function LastFilesBackup({ at }: { at: string | null }) {
  const hydrated = useHydrated();
  if (!at) {
    return (
      <p className="last-backup" data-testid="last-files-backup">
        No backup of the files yet: ask an administrator.
      </p>
    );
  }
  return (
    <p className="last-backup" data-testid="last-files-backup">
      Your files were last backed up <RelativeTime value={at} />{" "}
      <time dateTime={at}>({hydrated ? formatDate(at) : formatDateUtc(at)})</time>.
    </p>
  );
}
