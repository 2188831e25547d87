/**
 * Direct access to the e2e server's database, for states that are slow or impossible to
 * reach through the UI (an empty list after other files made backups, an old entry from
 * another address). Every helper puts back what it changed, so the test files stay
 * independent of the order they run in.
 */
import Database from "better-sqlite3";
import { e2e } from "./browser";

function open(): Database.Database {
  const db = new Database(e2e().databasePath);
  db.pragma("busy_timeout = 5000");
  return db;
}

/**
 * Runs `fn` while the backup catalog looks empty: the rows are moved to a side table and
 * moved back afterwards with their ids, whatever `fn` did. Refuses while a backup runs.
 */
export async function withBackupsHidden<T>(fn: () => Promise<T>): Promise<T> {
  const db = open();
  try {
    const running = db.prepare("SELECT count(*) AS n FROM backups WHERE status = 'in_progress'").get() as { n: number };
    if (running.n > 0) throw new Error("withBackupsHidden: a backup is running");
    db.exec("DROP TABLE IF EXISTS e2e_hidden_backups; CREATE TABLE e2e_hidden_backups AS SELECT * FROM backups; DELETE FROM backups;");
    try {
      return await fn();
    } finally {
      db.exec("DELETE FROM backups; INSERT INTO backups SELECT * FROM e2e_hidden_backups; DROP TABLE e2e_hidden_backups;");
    }
  } finally {
    db.close();
  }
}

export interface SeededBackup {
  filename: string;
  includesFiles?: boolean;
  includesDatabase?: boolean;
  status?: "completed" | "failed";
  createdAt?: number;
  completedAt?: number | null;
  sizeBytes?: number;
}

/** Adds catalog rows without archives (for what the list shows); returns their ids. */
export function insertBackups(rows: SeededBackup[]): number[] {
  const db = open();
  try {
    const insert = db.prepare(
      `INSERT INTO backups (filename, filepath, size_bytes, backup_type, status, origin, created_at, completed_at,
         creator_id, creator_name, includes_database, includes_files, includes_config)
       VALUES (?, ?, ?, ?, ?, 'manual', ?, ?, NULL, 'admin', ?, ?, 0)`,
    );
    return db.transaction(() =>
      rows.map((row) => {
        const files = row.includesFiles ?? true;
        const database = row.includesDatabase ?? true;
        const type = files && database ? "full" : files ? "files_only" : "database_only";
        const created = row.createdAt ?? Date.now();
        const completed = row.completedAt === undefined ? created + 1000 : row.completedAt;
        const result = insert.run(
          row.filename,
          `${e2e().backupPath}/${row.filename}`,
          row.sizeBytes ?? 1024 * 1024,
          type,
          row.status ?? "completed",
          created,
          completed,
          database ? 1 : 0,
          files ? 1 : 0,
        );
        return Number(result.lastInsertRowid);
      }),
    )();
  } finally {
    db.close();
  }
}

export function deleteBackupRows(ids: number[]): void {
  if (ids.length === 0) return;
  const db = open();
  try {
    db.prepare(`DELETE FROM backups WHERE id IN (${ids.map(() => "?").join(",")})`).run(...ids);
  } finally {
    db.close();
  }
}

export interface SeededAuditEntry {
  action: string;
  actorName: string;
  actorId?: number | null;
  ip?: string | null;
  userAgent?: string | null;
  resource?: string | null;
  success?: boolean;
  errorMessage?: string | null;
  details?: Record<string, unknown> | null;
  createdAt?: number;
}

/** Appends audit entries (the log is append-only, so they stay); returns their ids. */
export function insertAuditEntries(entries: SeededAuditEntry[]): number[] {
  const db = open();
  try {
    const insert = db.prepare(
      `INSERT INTO audit_log (created_at, action, actor_id, actor_name, ip, user_agent, resource, success, error_message, details)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    return db.transaction(() =>
      entries.map((e) =>
        Number(
          insert.run(
            e.createdAt ?? Date.now(),
            e.action,
            e.actorId ?? null,
            e.actorName,
            e.ip ?? null,
            e.userAgent ?? null,
            e.resource ?? null,
            e.success === false ? 0 : 1,
            e.errorMessage ?? null,
            e.details ? JSON.stringify(e.details) : null,
          ).lastInsertRowid,
        ),
      ),
    )();
  } finally {
    db.close();
  }
}
