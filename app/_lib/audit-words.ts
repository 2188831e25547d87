/**
 * The audit log in words: one vocabulary for the Audit log page, the Backup tab's activity
 * and Home's recent activity, so all three say the same thing the same way.
 *
 *   auditActionLabel("backup.retention_delete")  "Removed by retention"
 *   auditSentence(entry)                         { text: "Retention removed backup_….tar.gz", error: null }
 *                                                { text: "Upload refused", error: "The file is not a gzip archive." }
 *   auditDetailFields(entry)                     [{ label: "Size", value: { kind: "text", text: "12 MiB" } }, …]
 *
 * Pure (no React): the components render the sentence and a <dl> of the fields. An action
 * or a detail key this file does not know still shows, under a humanised name.
 */
import { formatBytes, formatCount, formatDuration, formatIp } from "@/lib/format";
import { TYPE_LABELS } from "@/app/(app)/settings/backup/_components/backup-labels";

/** The fields of an audit entry these words are made from (as `audit.list` returns them). */
export interface AuditEntryFacts {
  action: string;
  actor_name: string;
  ip?: string | null;
  user_agent?: string | null;
  resource: string | null;
  success: boolean;
  error_message: string | null;
  details: Record<string, unknown> | null;
}

const ACTION_LABELS: Record<string, string> = {
  "auth.login": "Signed in",
  "token.create": "Created an API token",
  "token.revoke": "Revoked an API token",
  "user.create": "Created a user",
  "user.reset_password": "Reset a password",
  "backup.create": "Created a backup",
  "backup.delete": "Deleted a backup",
  "backup.download": "Downloaded a backup",
  "backup.restore": "Restored a backup",
  "backup.restore_paths": "Restored selected files",
  "backup.download_path": "Downloaded from a backup",
  "backup.upload": "Uploaded a backup",
  "backup.import": "Imported a backup",
  "backup.verify": "Verified a backup",
  "backup.retention_delete": "Removed by retention",
  "backup.retention_settings": "Changed retention settings",
  "backup.cancel": "Cancelled a backup",
  "backup.interrupted": "Backup interrupted",
  "backup.protect": "Protected a backup",
  "backup.unprotect": "Removed a backup's protection",
  "backup.download_link": "Made a download link",
  "backup.drill": "Ran a restore drill",
  "backup.plan_create": "Created a backup plan",
  "backup.plan_update": "Changed a backup plan",
  "backup.plan_delete": "Deleted a backup plan",
  "backup.plan_run": "Ran a backup plan now",
  "backup.scheduled_run": "Scheduled backup",
  "offsite.target_create": "Added an offsite target",
  "offsite.target_update": "Changed an offsite target",
  "offsite.target_remove": "Removed an offsite target",
  "offsite.target_test": "Tested an offsite target",
  "offsite.copy": "Copied a backup offsite",
  "offsite.copy_request": "Asked for an offsite copy",
  "offsite.retention_delete": "Removed from offsite by retention",
  "offsite.remote_delete": "Deleted an offsite copy",
  "offsite.remote_verify": "Checked an offsite copy",
  "offsite.import": "Brought a backup back from offsite",
  "backup.encryption_settings": "Changed backup encryption",
  "backup.encryption_keygen": "Generated an encryption key pair",
};

/** "some_thing.other_part" → "Some thing other part". */
export function humanizeKey(key: string): string {
  const text = key.replace(/[._-]+/g, " ").trim();
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : key;
}

/** A short label for an action, for a column or a filter: "Restored a backup". */
export function auditActionLabel(action: string): string {
  return ACTION_LABELS[action] ?? humanizeKey(action);
}

/** The Backup tab's action filter: the part after "backup.", with its label. */
export const BACKUP_AUDIT_ACTIONS: Array<{ value: string; label: string }> = [
  "create",
  "delete",
  "download",
  "restore",
  "restore_paths",
  "download_path",
  "upload",
  "import",
  "verify",
  "retention_delete",
  "retention_settings",
  "cancel",
  "interrupted",
  "protect",
  "unprotect",
  "drill",
  "scheduled_run",
  "plan_run",
  "plan_create",
  "plan_update",
  "plan_delete",
  "encryption_settings",
  "encryption_keygen",
].map((value) => ({ value, label: auditActionLabel(`backup.${value}`) }));

function str(value: unknown): string | null {
  return typeof value === "string" && value.trim() ? value : null;
}

function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** "backup:12" → "backup 12", "user:bob" → "user bob". */
function resourceLabel(resource: string | null): string | null {
  if (!resource) return null;
  const [kind, id] = resource.split(/:(.*)/s);
  return id ? `${kind} ${id}` : resource;
}

function typeWord(value: unknown): string | null {
  const type = str(value);
  if (!type) return null;
  return (TYPE_LABELS as Record<string, string>)[type]?.toLowerCase() ?? humanizeKey(type).toLowerCase();
}

/** {database: true, files: true, config: false} → "database, files". */
function partsWord(value: unknown): string | null {
  if (!value || typeof value !== "object" || Array.isArray(value)) return null;
  const parts = Object.entries(value as Record<string, unknown>)
    .filter(([, on]) => on === true)
    .map(([part]) => part);
  return parts.length ? parts.join(", ") : "nothing";
}

const LOGIN_REASONS: Record<string, string> = {
  "invalid credentials": "wrong username or password",
  "rate limited": "too many attempts, sign-in paused",
};

export interface AuditSentence {
  /** What happened, as a sentence without a full stop. */
  text: string;
  /** Why it did not work, for failed entries (shown after the text, as an error). */
  error: string | null;
}

/** The whole sentence as one string: "Upload refused: The file is not a gzip archive." */
export function auditSentenceText(entry: AuditEntryFacts): string {
  const { text, error } = auditSentence(entry);
  return error ? `${text}: ${error}` : text;
}

/** What an entry says happened, in English. */
export function auditSentence(entry: AuditEntryFacts): AuditSentence {
  const d = entry.details ?? {};
  const who = entry.actor_name === "system" ? "BaluHost" : entry.actor_name;
  const filename = str(d.filename);
  const original = str(d.original_name);
  const backup = filename ?? resourceLabel(entry.resource) ?? "a backup";
  const size = num(d.size_bytes);
  const error = entry.success ? null : (str(entry.error_message) ?? null);
  const ok = (text: string): AuditSentence => ({ text, error: null });
  const failed = (text: string): AuditSentence => ({ text, error });
  const extras = (...parts: Array<string | null>) => {
    const shown = parts.filter((p): p is string => Boolean(p));
    return shown.length ? ` (${shown.join(", ")})` : "";
  };

  switch (entry.action) {
    case "auth.login":
      return entry.success
        ? ok(`${who} signed in`)
        : { text: `Sign-in refused for ${who}`, error: error ? (LOGIN_REASONS[error] ?? error) : null };
    case "token.create": {
      const name = str(d.name);
      return entry.success ? ok(`${who} created the API token ${name ? `“${name}”` : (resourceLabel(entry.resource) ?? "")}`.trim()) : failed("Creating an API token failed");
    }
    case "token.revoke": {
      const name = str(d.name);
      const token = name ? `the API token “${name}”` : (resourceLabel(entry.resource) ?? "an API token");
      return entry.success ? ok(`${who} revoked ${token}`) : failed(`Revoking ${token} failed`);
    }
    case "user.create": {
      const user = resourceLabel(entry.resource) ?? "a user";
      return entry.success ? ok(`${who} created ${user}${extras(str(d.role))}`) : failed(`Creating ${user} failed`);
    }
    case "user.reset_password": {
      const user = entry.resource?.replace(/^user:/, "") ?? "a user";
      return entry.success ? ok(`${who} reset the password of ${user}`) : failed(`Resetting the password of ${user} failed`);
    }
    case "backup.create":
      return entry.success
        ? ok(`${who} created ${backup}${extras(typeWord(d.backup_type), size !== null ? formatBytes(size) : null)}`)
        : failed(filename ? `Backup ${filename} failed` : "Backup failed");
    case "backup.cancel":
      return ok(`${who} cancelled ${backup}`);
    case "backup.interrupted":
      return failed(`${backup} was interrupted`);
    case "backup.delete":
      return entry.success ? ok(`${who} deleted ${backup}${extras(size !== null ? formatBytes(size) : null)}`) : failed("Delete refused");
    case "backup.download":
      return entry.success ? ok(`${who} downloaded ${backup}${extras(str(d.range) ? "part" : null)}`) : failed("Download failed");
    case "backup.restore":
      if (!entry.success) return failed("Restore failed");
      if (d.completed_at_startup === true) return ok(`The restore of ${backup} by ${who} was finished at start-up`);
      return ok(`${who} restored ${backup}${extras(partsWord(d.parts))}`);
    case "backup.restore_paths": {
      const paths = Array.isArray(d.paths) ? d.paths.filter((p): p is string => typeof p === "string") : [];
      const count = num(d.paths_count) ?? paths.length;
      const what = paths.length === 1 && count === 1 ? paths[0]! : `${count} selected ${count === 1 ? "path" : "paths"}`;
      const where = str(d.root) ? `into ${str(d.root)}` : "to where they were";
      return entry.success ? ok(`${who} restored ${what} from ${backup} ${where}`) : failed(`Restoring ${what} from ${backup} failed`);
    }
    case "backup.download_path": {
      const what = str(d.path) ?? "a file";
      return entry.success ? ok(`${who} downloaded ${what} from ${backup}${extras(d.kind === "folder" ? "folder as .tar.gz" : null)}`) : failed("Download failed");
    }
    case "backup.upload":
    case "backup.import": {
      const verb = entry.action === "backup.upload" ? "uploaded" : "imported";
      if (!entry.success) return failed(entry.action === "backup.upload" ? "Upload refused" : "Import refused");
      const source = original ?? backup;
      return ok(`${who} ${verb} ${source}${filename && filename !== source ? ` as ${filename}` : ""}`);
    }
    case "backup.verify":
      if (!entry.success) return failed(`Verification of ${backup} failed`);
      return d.scope === "structure"
        ? ok(`${who} checked ${backup} without its key: header, size and checksum as made`)
        : ok(`${who} verified ${backup}: complete and readable`);
    case "backup.encryption_settings": {
      if (!entry.success) return failed("Changing backup encryption failed");
      const mode = str(d.mode);
      return ok(
        mode === "off"
          ? `${who} switched backup encryption off`
          : mode === "passphrase"
            ? `${who} set backups to be encrypted with a passphrase`
            : `${who} set backups to be encrypted to ${Array.isArray(d.recipients) ? d.recipients.length : "the"} public key(s)`,
      );
    }
    case "backup.encryption_keygen":
      return ok(`${who} generated an encryption key pair${str(d.recipient) ? ` (${str(d.recipient)!.slice(0, 12)}…)` : ""}`);
    case "backup.retention_delete":
      return entry.success ? ok(`Retention removed ${backup}`) : failed(`Retention could not remove ${backup}`);
    case "backup.protect":
      return ok(`${who} protected ${backup} from retention`);
    case "backup.unprotect":
      return ok(`${who} removed the protection of ${backup}`);
    case "backup.download_link":
      return entry.success ? ok(`${who} made a download link for ${backup}`) : failed("Download link refused");
    case "backup.drill":
      if (d.refused === true) return failed(`Restore drill of ${backup} refused`);
      return entry.success
        ? ok(`${who} ran a restore drill of ${backup}: it restores${extras(num(d.duration_ms) !== null ? `restore took ${formatDuration(num(d.duration_ms)!)}` : null)}`)
        : failed(`Restore drill of ${backup} failed`);
    case "backup.plan_create":
    case "backup.plan_update":
    case "backup.plan_delete": {
      const plan = str(d.name) ? `the backup plan “${str(d.name)}”` : (resourceLabel(entry.resource) ?? "a backup plan");
      const verb = entry.action === "backup.plan_create" ? "created" : entry.action === "backup.plan_update" ? "changed" : "deleted";
      const when = entry.action === "backup.plan_create" ? extras(typeWord(d.backup_type), str(d.cron)) : "";
      return entry.success ? ok(`${who} ${verb} ${plan}${when}`) : failed(`${humanizeKey(verb)} ${plan} failed`);
    }
    case "backup.plan_run":
    case "backup.scheduled_run": {
      const plan = str(d.plan) ? `“${str(d.plan)}”` : (resourceLabel(entry.resource) ?? "a backup plan");
      if (entry.action === "backup.scheduled_run") {
        return entry.success ? ok(`Scheduled backup of the plan ${plan} done`) : failed(`Scheduled backup of the plan ${plan} failed`);
      }
      return entry.success ? ok(`${who} ran the backup plan ${plan} now`) : failed(`Running the backup plan ${plan} failed`);
    }
    case "backup.retention_settings": {
      const max = num(d.max_count);
      const days = num(d.retention_days);
      const gfs = (key: string, unit: string) => {
        const n = num(d[key]);
        return n ? `${formatCount(n)} ${unit}` : null;
      };
      const rules = [
        max !== null ? `at most ${formatCount(max)} backups` : null,
        days !== null ? `${formatCount(days)} days` : null,
        gfs("keep_daily", "daily"),
        gfs("keep_weekly", "weekly"),
        gfs("keep_monthly", "monthly"),
      ].filter(Boolean);
      return entry.success ? ok(`${who} set retention to ${rules.length ? rules.join(", ") : "new values"}`) : failed("Changing retention failed");
    }
    case "offsite.target_create":
    case "offsite.target_update":
    case "offsite.target_remove": {
      const verb = { "offsite.target_create": "added", "offsite.target_update": "changed", "offsite.target_remove": "removed" }[entry.action];
      const name = str(d.name);
      const what = name ? `the offsite target “${name}”` : "an offsite target";
      return entry.success ? ok(`${who} ${verb} ${what}${extras(str(d.location))}`) : failed(`Saving ${what} failed`);
    }
    case "offsite.target_test": {
      const name = str(d.name) ?? "an offsite target";
      return entry.success ? ok(`${who} tested “${name}”: it works`) : failed(`Test of “${name}” failed${extras(str(d.failed_step))}`);
    }
    case "offsite.copy": {
      const target = str(d.target) ?? "an offsite target";
      return entry.success
        ? ok(`${backup} was copied to “${target}” and verified${extras(size !== null ? formatBytes(size) : null)}`)
        : failed(`Copying ${backup} to “${target}” failed`);
    }
    case "offsite.copy_request":
      return ok(`${who} asked to copy ${backup} offsite${extras(Array.isArray(d.targets) ? d.targets.map(String).join(", ") : null)}`);
    case "offsite.retention_delete":
      return ok(`Offsite retention removed ${backup} from “${str(d.target) ?? "a target"}”`);
    case "offsite.remote_delete":
      return entry.success ? ok(`${who} deleted ${backup} from “${str(d.target) ?? "a target"}”`) : failed(`Deleting ${backup} from “${str(d.target) ?? "a target"}” failed`);
    case "offsite.remote_verify":
      return entry.success ? ok(`${who} checked ${backup} on “${str(d.target) ?? "a target"}”: intact`) : failed(`${backup} on “${str(d.target) ?? "a target"}” failed its check`);
    case "offsite.import":
      return entry.success
        ? ok(`${who} brought ${backup} back from “${str(d.target) ?? "a target"}”${str(d.imported_as) ? ` as ${str(d.imported_as)}` : ""}`)
        : failed(`Bringing ${backup} back from “${str(d.target) ?? "a target"}” failed`);
    default: {
      const label = humanizeKey(entry.action);
      const about = resourceLabel(entry.resource);
      return entry.success ? ok(`${who}: ${label}${about ? ` (${about})` : ""}`) : failed(`${label} failed`);
    }
  }
}

export type AuditFieldValue = { kind: "text"; text: string } | { kind: "date"; iso: string };

export interface AuditField {
  key: string;
  label: string;
  value: AuditFieldValue;
}

const FIELD_LABELS: Record<string, string> = {
  filename: "Archive",
  target: "Offsite target",
  targets: "Offsite targets",
  location: "Where",
  key: "Object key",
  imported_as: "Imported as",
  failed_step: "Failed at",
  failure_kind: "Cause",
  keys_changed: "Keys changed",
  keep_count: "Keep at most",
  keep_days: "Keep for (days)",
  original_name: "Uploaded file",
  size_bytes: "Size",
  backup_type: "Type",
  files: "Files",
  archived_files: "Files written",
  parent_id: "Builds on backup",
  safety_backup_id: "Safety backup",
  chain: "Archives read",
  parts: "Parts",
  foreign: "Made elsewhere",
  status: "Status",
  max_count: "Keep at most",
  retention_days: "Keep for",
  range: "Byte range",
  completed_at_startup: "Finished at start-up",
  drill_id: "Drill",
  duration_ms: "Restore took",
  file_count: "Files checked",
  failed_check: "Failed check",
  marked_damaged: "Marked damaged",
  skipped: "Left out",
  skipped_count: "Left out (count)",
  name: "Name",
  plan: "Plan",
  cron: "Schedule (cron)",
  timezone: "Time zone",
  drill_cron: "Drill schedule (cron)",
  slot: "Scheduled for",
  backup_id: "Backup",
  changes: "Changed",
  prefix: "Token starts with",
  role: "Role",
  username: "User",
  operation: "Operation",
  subject: "Subject",
  resource: "Concerns",
  ip: "IP address",
  user_agent: "Browser or client",
};

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

function fieldValue(key: string, value: unknown): AuditFieldValue {
  const text = (t: string): AuditFieldValue => ({ kind: "text", text: t });
  if (value === null || value === undefined) return text("–");
  if (typeof value === "boolean") return text(value ? "Yes" : "No");
  if (typeof value === "number") {
    if (/bytes$/.test(key)) return text(formatBytes(value));
    if (key === "duration_ms") return text(formatDuration(value));
    if (key === "max_count") return text(`${formatCount(value)} backups`);
    if (key === "retention_days") return text(`${formatCount(value)} days`);
    if (/_at$/.test(key) && value > 1e11) return { kind: "date", iso: new Date(value).toISOString() };
    return text(/_id$/.test(key) ? String(value) : formatCount(value));
  }
  if (typeof value === "string") {
    if (ISO_DATE.test(value) && !Number.isNaN(Date.parse(value))) return { kind: "date", iso: new Date(value).toISOString() };
    if (key === "backup_type") return text(typeWord(value) ?? value);
    return text(value);
  }
  if (Array.isArray(value)) {
    const items = value.map((item) => (typeof item === "object" && item !== null ? JSON.stringify(item) : String(item)));
    return text(items.length ? items.join(", ") : "none");
  }
  if (key === "parts") return text(partsWord(value) ?? "–");
  // A nested object: its own fields, "key: value" each.
  return text(
    Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => {
        const inner = fieldValue(k, v);
        return `${humanizeKey(k).toLowerCase()}: ${inner.kind === "text" ? inner.text : inner.iso}`;
      })
      .join(", "),
  );
}

/** An entry's details, resource and client as labelled fields (unknown keys included). */
export function auditDetailFields(entry: AuditEntryFacts, options: { includeIp?: boolean } = {}): AuditField[] {
  const fields: AuditField[] = Object.entries(entry.details ?? {})
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => ({ key, label: FIELD_LABELS[key] ?? humanizeKey(key), value: fieldValue(key, value) }));
  const label = resourceLabel(entry.resource);
  if (label) fields.push({ key: "resource", label: FIELD_LABELS.resource!, value: { kind: "text", text: label } });
  if (options.includeIp && entry.ip) fields.push({ key: "ip", label: FIELD_LABELS.ip!, value: { kind: "text", text: formatIp(entry.ip) } });
  if (entry.user_agent) fields.push({ key: "user_agent", label: FIELD_LABELS.user_agent!, value: { kind: "text", text: entry.user_agent } });
  return fields;
}
