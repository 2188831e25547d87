/**
 * The database schema. Columns are camelCase in TypeScript and snake_case in SQL;
 * timestamps are integers (milliseconds) so backups made in the same second still order.
 */
import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

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
  },
  (t) => [index("backups_created_idx").on(t.createdAt), index("backups_status_idx").on(t.status)],
);

/** Admin-editable settings that override environment defaults (e.g. retention). */
export const settings = sqliteTable("settings", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

export type User = typeof users.$inferSelect;
export type ApiToken = typeof apiTokens.$inferSelect;
export type AuditEntry = typeof auditLog.$inferSelect;
export type Backup = typeof backups.$inferSelect;
