/**
 * The database schema. Columns are camelCase in TypeScript and snake_case in SQL;
 * timestamps are integers (milliseconds) so backups made in the same second still order.
 */
import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

const createdAt = () =>
  integer("created_at", { mode: "timestamp_ms" })
    .notNull()
    .default(sql`(unixepoch('subsec') * 1000)`);

export const USER_ROLES = ["admin", "user"] as const;
export type UserRole = (typeof USER_ROLES)[number];

export const users = sqliteTable("users", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  username: text("username").notNull().unique(),
  passwordHash: text("password_hash").notNull(),
  role: text("role", { enum: USER_ROLES }).notNull().default("user"),
  createdAt: createdAt(),
});

export const apiTokens = sqliteTable(
  "api_tokens",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** SHA-256 of the token; the token itself is shown once and never stored. */
    tokenHash: text("token_hash").notNull().unique(),
    /** First characters of the token, so an admin can tell tokens apart in the list. */
    tokenPrefix: text("token_prefix").notNull(),
    /**
     * "full": acts as its user everywhere. "monitoring": read-only, accepted only by the
     * health and metrics endpoints, so a Prometheus scraper never holds an admin's powers.
     */
    scope: text("scope", { enum: ["full", "monitoring"] }).notNull().default("full"),
    createdAt: createdAt(),
    lastUsedAt: integer("last_used_at", { mode: "timestamp_ms" }),
    revokedAt: integer("revoked_at", { mode: "timestamp_ms" }),
  },
  (t) => [index("api_tokens_user_idx").on(t.userId)],
);

export const auditLog = sqliteTable(
  "audit_log",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    createdAt: createdAt(),
    action: text("action").notNull(),
    /** Who did it, as a snapshot: the user row may later change or disappear. Null = system. */
    actorId: integer("actor_id"),
    actorName: text("actor_name").notNull(),
    ip: text("ip"),
    userAgent: text("user_agent"),
    resource: text("resource"),
    success: integer("success", { mode: "boolean" }).notNull(),
    errorMessage: text("error_message"),
    details: text("details", { mode: "json" }).$type<Record<string, unknown>>(),
  },
  (t) => [
    index("audit_log_created_idx").on(t.createdAt),
    index("audit_log_action_idx").on(t.action),
    index("audit_log_actor_idx").on(t.actorName),
  ],
);

/** config_only: the config folder alone (the real BaluHost makes these when only includes_config is set). */
export const BACKUP_TYPES = ["full", "incremental", "database_only", "files_only", "config_only"] as const;
export type BackupType = (typeof BACKUP_TYPES)[number];
export const BACKUP_STATUSES = ["in_progress", "completed", "failed"] as const;
export type BackupStatus = (typeof BACKUP_STATUSES)[number];
/** How the archive came to be: made here on request, before a restore, or brought in. */
export const BACKUP_ORIGINS = ["manual", "scheduled", "safety", "uploaded", "imported"] as const;
export type BackupOrigin = (typeof BACKUP_ORIGINS)[number];

/** How an archive is encrypted (age): with a passphrase (scrypt) or to public keys (X25519). */
export const BACKUP_ENCRYPTIONS = ["passphrase", "recipients"] as const;
export type BackupEncryption = (typeof BACKUP_ENCRYPTIONS)[number];

export const backups = sqliteTable(
  "backups",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    filename: text("filename").notNull().unique(),
    filepath: text("filepath").notNull(),
    /**
     * Sub-folder of NAS_BACKUP_PATH the archive was written to ("" = the folder itself), from
     * the create request's backup_path; checked segment by segment whenever it is used.
     */
    archiveDir: text("archive_dir").notNull().default(""),
    sizeBytes: integer("size_bytes").notNull().default(0),
    backupType: text("backup_type", { enum: BACKUP_TYPES }).notNull(),
    status: text("status", { enum: BACKUP_STATUSES }).notNull().default("in_progress"),
    origin: text("origin", { enum: BACKUP_ORIGINS }).notNull().default("manual"),
    createdAt: createdAt(),
    completedAt: integer("completed_at", { mode: "timestamp_ms" }),
    /** No foreign key: a backup outlives its creator, and restores replace the users table. */
    creatorId: integer("creator_id"),
    creatorName: text("creator_name"),
    errorMessage: text("error_message"),
    /** The error code (server/errors.ts) of a failure, so an API answer can give the right status. */
    errorCode: text("error_code"),
    includesDatabase: integer("includes_database", { mode: "boolean" }).notNull(),
    includesFiles: integer("includes_files", { mode: "boolean" }).notNull(),
    includesConfig: integer("includes_config", { mode: "boolean" }).notNull(),
    /** The backup an incremental builds on. */
    parentId: integer("parent_id"),
    fileCount: integer("file_count"),
    sha256: text("sha256"),
    verifiedAt: integer("verified_at", { mode: "timestamp_ms" }),
    verifyStatus: text("verify_status", { enum: ["ok", "failed"] }),
    verifyError: text("verify_error"),
    /**
     * Whether the archive lists every file present when it was made (ours do, in the
     * manifest). Without a list (archives of the real BaluHost, made by Python tarfile) a
     * restore can only add and replace files: what was deleted since cannot be known.
     */
    fileList: integer("file_list", { mode: "boolean" }).notNull().default(true),
    /** The archive's database is another application's (no BaluHost migration history): it cannot be restored as ours. */
    foreignDatabase: integer("foreign_database", { mode: "boolean" }).notNull().default(false),
    /** Pinned by an admin: retention never removes it (nor the backups its chain needs). */
    isProtected: integer("protected", { mode: "boolean" }).notNull().default(false),
    /**
     * When an uploaded or imported archive arrived here; its created_at is the time the
     * archive itself was made. Retention counts a backup's age from its arrival.
     */
    importedAt: integer("imported_at", { mode: "timestamp_ms" }),
    /**
     * The backup plan a scheduled backup was made for, and its name at the time (a plan may
     * later be renamed or removed; the list keeps saying which plan made the backup).
     */
    planId: integer("plan_id"),
    planName: text("plan_name"),

    // --- Encryption at rest (issue 13) ---------------------------------------------------
    /** How the archive is encrypted (age, `.tar.gz.age`); null = not encrypted. */
    encryption: text("encryption", { enum: BACKUP_ENCRYPTIONS }),
    /** The public keys (age1…) it was encrypted to, when made here in recipients mode; null otherwise. */
    encryptionRecipients: text("encryption_recipients", { mode: "json" }).$type<string[]>(),
    /**
     * Which encryption setting made it (a random id per key set in Settings, never derived from
     * the key): an incremental builds only on a backup of the same key, so a chain has one key.
     */
    encryptionKeyId: text("encryption_key_id"),
    /** What the last verification covered: "full" (decrypted and checked) or "structure" (no key: age header, size and SHA-256 only). */
    verifyScope: text("verify_scope", { enum: ["full", "structure"] }),
  },
  (t) => [index("backups_created_idx").on(t.createdAt), index("backups_status_idx").on(t.status)],
);

/** Types a backup plan may run (config_only is for uploads and the real BaluHost's archives). */
export const PLAN_BACKUP_TYPES = ["full", "incremental", "database_only", "files_only"] as const;
export type PlanBackupType = (typeof PLAN_BACKUP_TYPES)[number];
export const RUN_RESULTS = ["ok", "failed"] as const;
export type RunResult = (typeof RUN_RESULTS)[number];

/**
 * Backup plans: what to back up and when (a cron expression in a time zone). The scheduler
 * claims each due time ("slot") in this table with a conditional update, so two server
 * processes on the same data never run the same slot twice.
 */
export const backupPlans = sqliteTable("backup_plans", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull().unique(),
  enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
  backupType: text("backup_type", { enum: PLAN_BACKUP_TYPES }).notNull(),
  includeConfig: integer("include_config", { mode: "boolean" }).notNull().default(false),
  cron: text("cron").notNull(),
  /** IANA time zone the cron expression is read in, e.g. "Europe/Berlin". */
  timezone: text("timezone").notNull(),
  /** Incremental plans: every N-th run is a full backup (caps the chain a restore needs). Null = never forced. */
  fullEvery: integer("full_every"),
  /** Restore drill schedule (cron, same time zone); null = no drills for this plan. */
  drillCron: text("drill_cron"),
  createdAt: createdAt(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
  /** The newest scheduled time this plan has claimed (run or started); a slot is claimed once. */
  lastSlotAt: integer("last_slot_at", { mode: "timestamp_ms" }),
  /** Runs since the last full backup of this plan (for fullEvery). */
  runsSinceFull: integer("runs_since_full").notNull().default(0),
  lastRunAt: integer("last_run_at", { mode: "timestamp_ms" }),
  lastBackupId: integer("last_backup_id"),
  lastResult: text("last_result", { enum: RUN_RESULTS }),
  lastError: text("last_error"),
  /** The newest drill slot claimed, as lastSlotAt is for backups. */
  lastDrillSlotAt: integer("last_drill_slot_at", { mode: "timestamp_ms" }),
});

export const DRILL_STATUSES = ["running", "passed", "failed"] as const;
export type DrillStatus = (typeof DRILL_STATUSES)[number];

/** Restore drills: a backup restored into a sandbox and checked, never over live data. */
export const restoreDrills = sqliteTable(
  "restore_drills",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** No foreign key: the record of a drill outlives the backup it tested. */
    backupId: integer("backup_id"),
    backupFilename: text("backup_filename"),
    planId: integer("plan_id"),
    /** Who asked for it (snapshot, like the audit log): "system" for scheduled drills. */
    actorName: text("actor_name").notNull(),
    status: text("status", { enum: DRILL_STATUSES }).notNull().default("running"),
    startedAt: integer("started_at", { mode: "timestamp_ms" }).notNull(),
    finishedAt: integer("finished_at", { mode: "timestamp_ms" }),
    /** Time to restore: from start to a checked sandbox. */
    durationMs: integer("duration_ms"),
    fileCount: integer("file_count"),
    bytes: integer("bytes"),
    errorMessage: text("error_message"),
    /** The individual checks and their results, for the detail view. */
    checks: text("checks", { mode: "json" }).$type<Array<{ name: string; ok: boolean; detail?: string }>>(),
  },
  (t) => [index("restore_drills_started_idx").on(t.startedAt)],
);

export const CHANNEL_KINDS = ["webhook", "email"] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];
export const NOTIFY_EVENTS = [
  "backup_failed",
  "verify_failed",
  "drill_failed",
  "retention_deleted",
  "disk_low",
  "no_recent_backup",
  "offsite_copy_failed",
  "resolved",
  "test",
] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

/**
 * Where notifications go. Settings that are not secret live here (URL, SMTP host, port,
 * from, to); the secret (webhook signing secret, SMTP password) lives in a file under
 * data/secrets, outside every backup, and is never returned by the API.
 */
export const notificationChannels = sqliteTable("notification_channels", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull().unique(),
  kind: text("kind", { enum: CHANNEL_KINDS }).notNull(),
  enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
  settings: text("settings", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
  /** Events this channel receives ("test" always). */
  events: text("events", { mode: "json" }).notNull().$type<NotifyEvent[]>(),
  hasSecret: integer("has_secret", { mode: "boolean" }).notNull().default(false),
  createdAt: createdAt(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
  lastDeliveryAt: integer("last_delivery_at", { mode: "timestamp_ms" }),
  lastDeliveryOk: integer("last_delivery_ok", { mode: "boolean" }),
  lastDeliveryError: text("last_delivery_error"),
});

export const DELIVERY_STATUSES = ["pending", "sent", "failed"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * The outbox: one row per notification and channel, written in the same process as the
 * event, delivered (with retries and backoff) by whichever process runs the sender, so a
 * failure seen by the CLI while the web server is down is still delivered later.
 */
export const notificationDeliveries = sqliteTable(
  "notification_deliveries",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    channelId: integer("channel_id")
      .notNull()
      .references(() => notificationChannels.id, { onDelete: "cascade" }),
    event: text("event", { enum: NOTIFY_EVENTS }).notNull(),
    /** The message: title, text, host, severity and figures, as sent. */
    payload: text("payload", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
    status: text("status", { enum: DELIVERY_STATUSES }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at", { mode: "timestamp_ms" }).notNull(),
    lastError: text("last_error"),
    createdAt: createdAt(),
    deliveredAt: integer("delivered_at", { mode: "timestamp_ms" }),
  },
  (t) => [index("notification_deliveries_due_idx").on(t.status, t.nextAttemptAt)],
);

/**
 * Conditions that last (no successful backup for N hours, disk below the threshold): an
 * incident opens once, notifies once, and closes when the condition clears.
 */
export const alertIncidents = sqliteTable(
  "alert_incidents",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    kind: text("kind", { enum: NOTIFY_EVENTS }).notNull(),
    openedAt: integer("opened_at", { mode: "timestamp_ms" }).notNull(),
    clearedAt: integer("cleared_at", { mode: "timestamp_ms" }),
    message: text("message").notNull(),
  },
  (t) => [index("alert_incidents_kind_idx").on(t.kind, t.clearedAt)],
);

/** Admin-editable settings that override environment defaults (e.g. retention). */
export const settings = sqliteTable("settings", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

// ---------------------------------------------------------------------------------------
// Offsite copies (issue 12): S3-compatible targets and the copy queue. Self-contained: two
// new tables, nothing else changed (besides the "offsite_copy_failed" notify event above).
// ---------------------------------------------------------------------------------------

/**
 * An S3-compatible bucket that backups are copied to. The access key and secret key live in
 * a file under data/secrets (never in this table, so never in a backup); `hasSecret` says
 * whether it should exist. keep_count / keep_days are the target's own retention (null = no limit).
 */
export const offsiteTargets = sqliteTable("offsite_targets", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull().unique(),
  /** "" = the provider's default endpoint (AWS S3 in the region). */
  endpoint: text("endpoint").notNull().default(""),
  region: text("region").notNull().default("us-east-1"),
  bucket: text("bucket").notNull(),
  /** Folder inside the bucket, without leading or trailing slash ("" = the bucket's root). */
  prefix: text("prefix").notNull().default(""),
  forcePathStyle: integer("force_path_style", { mode: "boolean" }).notNull().default(false),
  storageClass: text("storage_class"),
  enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
  keepCount: integer("keep_count"),
  keepDays: integer("keep_days"),
  hasSecret: integer("has_secret", { mode: "boolean" }).notNull().default(false),
  createdAt: createdAt(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
  lastTestAt: integer("last_test_at", { mode: "timestamp_ms" }),
  lastTestOk: integer("last_test_ok", { mode: "boolean" }),
  lastTestError: text("last_test_error"),
});

/** removed: the copy was verified, then deleted from the bucket (the target's retention, or an admin); never re-queued by itself. */
export const OFFSITE_COPY_STATUSES = ["queued", "uploading", "verified", "failed", "removed"] as const;
export type OffsiteCopyStatus = (typeof OFFSITE_COPY_STATUSES)[number];

/**
 * The copy queue: one row per backup and target. queued → uploading (claimed with a lease
 * in lease_until) → verified, or back to queued with a later next_attempt_at, or failed after
 * the last attempt. A process that dies while uploading leaves the lease to run out; the
 * next drain restarts the object cleanly.
 */
export const offsiteCopies = sqliteTable(
  "offsite_copies",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    backupId: integer("backup_id")
      .notNull()
      .references(() => backups.id, { onDelete: "cascade" }),
    targetId: integer("target_id")
      .notNull()
      .references(() => offsiteTargets.id, { onDelete: "cascade" }),
    status: text("status", { enum: OFFSITE_COPY_STATUSES }).notNull().default("queued"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at", { mode: "timestamp_ms" }).notNull(),
    leaseUntil: integer("lease_until", { mode: "timestamp_ms" }),
    bytesDone: integer("bytes_done").notNull().default(0),
    bytesTotal: integer("bytes_total").notNull().default(0),
    remoteKey: text("remote_key"),
    lastError: text("last_error"),
    createdAt: createdAt(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
    verifiedAt: integer("verified_at", { mode: "timestamp_ms" }),
  },
  (t) => [uniqueIndex("offsite_copies_backup_target_idx").on(t.backupId, t.targetId), index("offsite_copies_due_idx").on(t.status, t.nextAttemptAt)],
);

export type OffsiteTarget = typeof offsiteTargets.$inferSelect;
export type OffsiteCopy = typeof offsiteCopies.$inferSelect;
// ---------------------------------------------------------------------------------------

export type User = typeof users.$inferSelect;
export type ApiToken = typeof apiTokens.$inferSelect;
export type AuditEntry = typeof auditLog.$inferSelect;
export type Backup = typeof backups.$inferSelect;
export type BackupPlanRow = typeof backupPlans.$inferSelect;
export type RestoreDrill = typeof restoreDrills.$inferSelect;
export type NotificationChannel = typeof notificationChannels.$inferSelect;
export type NotificationDelivery = typeof notificationDeliveries.$inferSelect;
export type AlertIncident = typeof alertIncidents.$inferSelect;
