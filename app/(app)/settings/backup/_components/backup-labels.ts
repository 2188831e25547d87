/**
 * Words for the backup API's values (types, origins, statuses, progress phases), in one
 * place so the list and the dialogs say the same thing. The audit log's words are in
 * app/_lib/audit-words.ts.
 */
import type { BadgeTone } from "@/app/_components/badge";
import type { RouterOutputs } from "@/app/_trpc/client";
import { formatBytes, formatDuration } from "@/lib/format";

export type BackupRecord = RouterOutputs["backup"]["list"]["backups"][number];
export type BackupType = BackupRecord["backup_type"];
export type BackupOrigin = BackupRecord["origin"];
export type BackupProgress = NonNullable<BackupRecord["progress"]>;
export type Overview = RouterOutputs["backup"]["overview"];
export type RetentionSource = Overview["retention"]["sources"]["max_count"];

export const TYPE_LABELS: Record<BackupType, string> = {
  full: "Full",
  incremental: "Incremental",
  database_only: "Database only",
  files_only: "Files only",
  config_only: "Config only",
};

/** The create dialog's choices, with the one line that explains each. */
export const TYPE_CHOICES: Array<{ value: BackupType; label: string; description: string }> = [
  { value: "full", label: "Full", description: "The database and every file in storage." },
  {
    value: "incremental",
    label: "Incremental",
    description:
      "Only the files changed since the last backup, plus the database: faster and smaller. With no backup to build on yet, it starts as a full backup.",
  },
  { value: "database_only", label: "Database only", description: "Users, API tokens and settings, without the files." },
  { value: "files_only", label: "Files only", description: "Every file in storage, without the database." },
  { value: "config_only", label: "Config only", description: "The config folder alone: small, for keeping settings before a change." },
];

export const ORIGIN_LABELS: Record<BackupOrigin, { label: string; tone: BadgeTone; title: string }> = {
  manual: { label: "Manual", tone: "neutral", title: "Created on request" },
  scheduled: { label: "Scheduled", tone: "neutral", title: "Created by the schedule" },
  safety: { label: "Safety", tone: "warning", title: "Taken automatically before a restore, so the restore can be undone" },
  uploaded: { label: "Uploaded", tone: "accent", title: "Uploaded from a browser" },
  imported: { label: "Imported", tone: "accent", title: "Imported on the server with the command line" },
};

export const STATUS_LABELS: Record<BackupRecord["status"], { label: string; tone: BadgeTone }> = {
  in_progress: { label: "In progress", tone: "accent" },
  completed: { label: "Completed", tone: "success" },
  failed: { label: "Failed", tone: "danger" },
};

/** A cancelled backup ends as failed in the API (the spec has no other status); to people it is "Cancelled". */
export function isCancelled(b: Pick<BackupRecord, "status" | "error_code">): boolean {
  return b.status === "failed" && b.error_code === "BACKUP_CANCELLED";
}

/**
 * What a row's status badge says: a completed backup whose last check failed is Damaged
 * (restore warns, incrementals do not build on it); a cancelled one is Cancelled, neutral.
 */
export function statusBadge(b: Pick<BackupRecord, "status" | "error_code" | "damaged">): { label: string; tone: BadgeTone } {
  if (b.status === "completed" && b.damaged) return { label: "Damaged", tone: "danger" };
  if (isCancelled(b)) return { label: "Cancelled", tone: "neutral" };
  return STATUS_LABELS[b.status];
}

/** Seconds left at the speed so far, or null while there is too little to go on. */
export function etaMs(p: Pick<BackupProgress, "bytes_done" | "bytes_total" | "elapsed_ms">): number | null {
  if (p.bytes_total <= 0 || p.bytes_done <= 0 || p.elapsed_ms < 2000 || p.bytes_done >= p.bytes_total) return null;
  return ((p.bytes_total - p.bytes_done) / p.bytes_done) * p.elapsed_ms;
}

/** "took 41 s · 30.2 MiB/s" for a finished backup made here; null for imports (they were not made here). */
export function throughputLabel(b: Pick<BackupRecord, "size_bytes" | "duration_ms" | "status">): string | null {
  if (b.status !== "completed" || b.duration_ms === null) return null;
  const seconds = Math.max(b.duration_ms, 1) / 1000;
  return `took ${formatDuration(b.duration_ms)} · ${formatBytes(b.size_bytes / seconds)}/s`;
}

const PHASE_LABELS: Record<string, string> = {
  preparing: "Preparing",
  snapshot: "Copying the database",
  scanning: "Scanning files",
  archiving: "Writing the archive",
  finalizing: "Finishing",
  done: "Done",
};

export function phaseLabel(phase: string | undefined): string {
  if (!phase) return "Starting";
  return PHASE_LABELS[phase] ?? phase.charAt(0).toUpperCase() + phase.slice(1);
}

/** What a backup holds, for people: "Database, files and config". */
export function contentsLabel(b: Pick<BackupRecord, "includes_database" | "includes_files" | "includes_config">): string {
  const parts = [b.includes_database && "database", b.includes_files && "files", b.includes_config && "config"].filter(
    (p): p is string => Boolean(p),
  );
  if (parts.length === 0) return "Nothing";
  const text = parts.length === 1 ? parts[0]! : `${parts.slice(0, -1).join(", ")} and ${parts[parts.length - 1]}`;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * What an archive made elsewhere (the original BaluHost, or by hand) cannot do, in the words
 * the table's badges and the restore dialog share.
 */
export const ARCHIVE_LIMITS = {
  noFileList: {
    label: "Add and replace",
    title:
      "This archive has no list of every file: restoring adds and replaces its files, and files deleted since it was made cannot be known, so none are removed.",
  },
  foreignDatabase: {
    label: "Other app's database",
    title:
      "The database in this archive belongs to another application (such as the original BaluHost): it cannot be restored. Restore its files and config only.",
  },
} as const;

export const SOURCE_LABELS: Record<RetentionSource, string> = {
  settings: "saved setting",
  environment: "environment variable",
  default: "default",
};
