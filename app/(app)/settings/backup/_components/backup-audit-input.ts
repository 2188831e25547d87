/**
 * The `audit.list` input of the Backup tab's activity card, shared by the page (server
 * prefetch) and the card (client), so the prefetched first page is used as is.
 */
import type { RouterInputs } from "@/app/_trpc/client";

export const BACKUP_AUDIT_PAGE_SIZE = 20;

export interface BackupAuditFilters {
  /** The part after "backup." (create, restore…), or "" for every backup action. */
  action: string;
  /** The exact username, or "" for everyone. */
  user: string;
}

export const NO_BACKUP_AUDIT_FILTERS: BackupAuditFilters = { action: "", user: "" };

export function backupAuditInput(filters: BackupAuditFilters): Omit<RouterInputs["audit"]["list"], "cursor"> {
  return {
    action_prefix: "backup.",
    ...(filters.action ? { action: `backup.${filters.action}` } : {}),
    ...(filters.user ? { actor_name: filters.user } : {}),
    limit: BACKUP_AUDIT_PAGE_SIZE,
  };
}
