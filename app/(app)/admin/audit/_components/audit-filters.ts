/**
 * The audit log's filters, as they appear in the address (?action=&user=&result=) and as
 * the input of `audit.list`. Shared by the page (server prefetch) and the list (client),
 * so both build the very same query input and the prefetched page is used as is.
 */
import type { RouterInputs } from "@/app/_trpc/client";

export const AUDIT_PAGE_SIZE = 50;

export type AuditResultFilter = "" | "success" | "failure";

export interface AuditFilters {
  /** Matches the start of the action: "backup" finds backup.create, backup.restore… */
  action: string;
  /** The exact username of who did it. */
  user: string;
  result: AuditResultFilter;
}

export const EMPTY_AUDIT_FILTERS: AuditFilters = { action: "", user: "", result: "" };

type SearchParams = Record<string, string | string[] | undefined>;

function first(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value[0] : value)?.trim().slice(0, 100) ?? "";
}

export function parseAuditFilters(params: SearchParams): AuditFilters {
  const result = first(params.result);
  return {
    action: first(params.action),
    user: first(params.user),
    result: result === "success" || result === "failure" ? result : "",
  };
}

/** The filters as a query string ("" when none is set). */
export function auditFiltersToSearch(filters: AuditFilters): string {
  const params = new URLSearchParams();
  if (filters.action) params.set("action", filters.action);
  if (filters.user) params.set("user", filters.user);
  if (filters.result) params.set("result", filters.result);
  const text = params.toString();
  return text ? `?${text}` : "";
}

export type AuditListInput = Omit<RouterInputs["audit"]["list"], "cursor">;

/** The `audit.list` input for the filters; keys without a value are left out. */
export function auditListInput(filters: AuditFilters): AuditListInput {
  return {
    ...(filters.action ? { action_prefix: filters.action } : {}),
    ...(filters.user ? { actor_name: filters.user } : {}),
    ...(filters.result ? { success: filters.result === "success" } : {}),
    limit: AUDIT_PAGE_SIZE,
  };
}

export function hasAuditFilters(filters: AuditFilters): boolean {
  return Boolean(filters.action || filters.user || filters.result);
}
