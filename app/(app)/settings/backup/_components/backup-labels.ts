/**
 * Words for the backup API's values (types, origins, statuses, progress phases, audit
 * actions), in one place so the list, the dialogs and the audit table say the same thing.
 */
import type { BadgeTone } from "@/app/_components/badge";
import type { RouterOutputs } from "@/app/_trpc/client";

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

/** The audit filter's choices: the part after "backup.". */
export const AUDIT_ACTIONS: Array<{ value: string; label: string }> = [
  { value: "create", label: "Create" },
  { value: "delete", label: "Delete" },
  { value: "download", label: "Download" },
  { value: "restore", label: "Restore" },
  { value: "upload", label: "Upload" },
  { value: "import", label: "Import" },
  { value: "verify", label: "Verify" },
  { value: "retention_delete", label: "Retention delete" },
  { value: "retention_settings", label: "Retention settings" },
  { value: "cancel", label: "Cancel" },
];

const AUDIT_ACTION_LABELS: Record<string, string> = {
  "backup.create": "Created a backup",
  "backup.delete": "Deleted a backup",
  "backup.download": "Downloaded a backup",
  "backup.restore": "Restored a backup",
  "backup.upload": "Uploaded a backup",
  "backup.import": "Imported a backup",
  "backup.verify": "Verified a backup",
  "backup.retention_delete": "Removed by retention",
  "backup.retention_settings": "Changed retention settings",
  "backup.cancel": "Cancelled a backup",
  "backup.interrupted": "Backup interrupted",
};

export function auditActionLabel(action: string): string {
  return AUDIT_ACTION_LABELS[action] ?? action;
}
