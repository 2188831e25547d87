/**
 * The audit log: one function records what happened, who did it and whether it worked.
 * The actor is stored as a snapshot (id and username at the time) so entries stay
 * meaningful after the user is renamed, deleted, or a restore replaces the users table.
 * Recording never throws into the caller: a failed audit write must not turn a completed
 * backup into an error, so it is logged instead.
 */
import { and, desc, eq, like, lt, sql, type SQL } from "drizzle-orm";
import type { AppDatabase } from "@/db/client";
import { auditLog, type AuditEntry } from "@/db/schema";

/** Who performed an operation. `null` id with name "system" is the app itself (retention, start-up). */
export interface Actor {
  id: number | null;
  username: string;
  ip?: string | null;
  userAgent?: string | null;
}

export const SYSTEM_ACTOR: Actor = { id: null, username: "system" };

export interface AuditRecord {
  action: string;
  actor: Actor;
  resource?: string | null;
  success: boolean;
  errorMessage?: string | null;
  details?: Record<string, unknown> | null;
}

export function recordAudit(db: AppDatabase, record: AuditRecord): void {
  try {
    db.insert(auditLog)
      .values({
        action: record.action,
        actorId: record.actor.id,
        actorName: record.actor.username,
        ip: record.actor.ip ?? null,
        userAgent: record.actor.userAgent?.slice(0, 512) ?? null,
        resource: record.resource ?? null,
        success: record.success,
        errorMessage: record.errorMessage?.slice(0, 2000) ?? null,
        details: record.details ?? null,
      })
      .run();
  } catch (err) {
    console.error(`[audit] could not record ${record.action}:`, err);
  }
}

export interface AuditQuery {
  action?: string;
  /** Prefix match on the action, e.g. "backup." for every backup action. */
  actionPrefix?: string;
  actorName?: string;
  success?: boolean;
  /** Keyset pagination: entries with an id below this one. */
  beforeId?: number;
  limit?: number;
}

export interface AuditPage {
  entries: AuditEntry[];
  nextCursor: number | null;
  total: number;
}

export function listAudit(db: AppDatabase, query: AuditQuery = {}): AuditPage {
  const limit = Math.min(Math.max(query.limit ?? 50, 1), 200);
  const filters: SQL[] = [];
  if (query.action) filters.push(eq(auditLog.action, query.action));
  if (query.actionPrefix) filters.push(like(auditLog.action, `${query.actionPrefix.replace(/[%_]/g, "")}%`));
  if (query.actorName) filters.push(eq(auditLog.actorName, query.actorName));
  if (query.success !== undefined) filters.push(eq(auditLog.success, query.success));
  const where = filters.length ? and(...filters) : undefined;
  const pageWhere = query.beforeId ? and(where, lt(auditLog.id, query.beforeId)) : where;
  const entries = db
    .select()
    .from(auditLog)
    .where(pageWhere)
    .orderBy(desc(auditLog.id))
    .limit(limit + 1)
    .all();
  const total = db.select({ n: sql<number>`count(*)` }).from(auditLog).where(where).get()?.n ?? 0;
  const hasMore = entries.length > limit;
  const page = hasMore ? entries.slice(0, limit) : entries;
  return { entries: page, nextCursor: hasMore ? page[page.length - 1]!.id : null, total };
}
