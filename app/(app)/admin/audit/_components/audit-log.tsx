"use client";
/**
 * The audit log table: filters (action prefix, user, result) kept in the address so a
 * filtered view can be shared or bookmarked, newest entries first, 50 at a time with
 * "Load more" (keyset pagination through `next_cursor`). Each entry reads as a sentence
 * (app/_lib/audit-words.ts) with its details as labelled fields; on a phone, as a card.
 */
import { keepPreviousData } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Button } from "@/app/_components/button";
import { DateTime } from "@/app/_components/date-time";
import { EmptyState } from "@/app/_components/empty-state";
import { SelectField, TextField } from "@/app/_components/field";
import { formatCount, formatIp } from "@/lib/format";
import { AuditResult, AuditWhat } from "@/app/_components/audit-entry";
import { AuditIcon, RefreshIcon, SearchIcon } from "@/app/_components/icons";
import { Card } from "@/app/_components/layout-parts";
import { PagedList } from "@/app/_components/paged-list";
import { trpc, type RouterOutputs } from "@/app/_trpc/client";
import {
  auditFiltersToSearch,
  auditListInput,
  EMPTY_AUDIT_FILTERS,
  hasAuditFilters,
  type AuditFilters,
  type AuditResultFilter,
} from "./audit-filters";

type AuditEntry = RouterOutputs["audit"]["list"]["entries"][number];

/** Actions the app records today; the field takes any prefix, these are suggestions. */
const KNOWN_ACTIONS = ["auth.login", "token.create", "token.revoke", "backup", "backup.restore"];

export function AuditLog({ initialFilters }: { initialFilters: AuditFilters }) {
  const [filters, setFilters] = useState<AuditFilters>(initialFilters);
  const [draft, setDraft] = useState<AuditFilters>(initialFilters);

  const query = trpc.audit.list.useInfiniteQuery(auditListInput(filters), {
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    placeholderData: keepPreviousData,
  });

  const apply = (next: AuditFilters) => {
    setFilters(next);
    setDraft(next);
    // Next keeps useSearchParams in step with history.replaceState; no server round trip.
    window.history.replaceState(null, "", `${window.location.pathname}${auditFiltersToSearch(next)}`);
  };

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    apply({ action: draft.action.trim(), user: draft.user.trim(), result: draft.result });
  };

  const entries = query.data?.pages.flatMap((page) => page.entries) ?? [];
  const total = query.data?.pages[0]?.total ?? 0;
  const filtered = hasAuditFilters(filters);
  const refreshing = query.isFetching && !query.isFetchingNextPage;

  return (
    <Card
      flush
      title="Entries"
      description={
        query.data
          ? filtered
            ? `${formatCount(total)} matching ${total === 1 ? "entry" : "entries"}`
            : `${formatCount(total)} ${total === 1 ? "entry" : "entries"} in total`
          : undefined
      }
      actions={
        <Button
          size="sm"
          icon={<RefreshIcon size={14} />}
          onClick={() => void query.refetch()}
          loading={refreshing}
        >
          Refresh
        </Button>
      }
    >
      <form className="toolbar" onSubmit={onSubmit} role="search" aria-label="Filter the audit log">
        <div className="form-row">
          <TextField
            label="Action"
            placeholder="e.g. auth.login or backup"
            value={draft.action}
            onChange={(e) => setDraft({ ...draft, action: e.target.value })}
            list="audit-known-actions"
            maxLength={100}
            autoComplete="off"
            spellCheck={false}
          />
          <datalist id="audit-known-actions">
            {KNOWN_ACTIONS.map((action) => (
              <option key={action} value={action} />
            ))}
          </datalist>
          <TextField
            label="User"
            placeholder="Username"
            value={draft.user}
            onChange={(e) => setDraft({ ...draft, user: e.target.value })}
            maxLength={100}
            autoComplete="off"
            spellCheck={false}
          />
          <SelectField
            label="Result"
            value={draft.result}
            onChange={(e) => setDraft({ ...draft, result: e.target.value as AuditResultFilter })}
          >
            <option value="">All results</option>
            <option value="success">Succeeded</option>
            <option value="failure">Failed</option>
          </SelectField>
          <div className="form-row-actions">
            <Button type="submit" variant="primary" icon={<SearchIcon size={14} />}>
              Filter
            </Button>
            {filtered || hasAuditFilters(draft) ? (
              <Button variant="ghost" onClick={() => apply(EMPTY_AUDIT_FILTERS)}>
                Clear
              </Button>
            ) : null}
          </div>
        </div>
      </form>

      <p className="visually-hidden" aria-live="polite">
        {query.isFetching ? "Loading entries…" : query.data ? `Showing ${entries.length} of ${total} entries.` : ""}
      </p>
      <PagedList
        query={query}
        shown={entries.length}
        total={total}
        loadingText="Loading the audit log…"
        errorTitle="The audit log could not be loaded"
        endText="End of the log"
        empty={
          filtered ? (
            <EmptyState
              icon={<SearchIcon size={22} />}
              title="No entries match these filters"
              headingLevel={3}
              action={<Button onClick={() => apply(EMPTY_AUDIT_FILTERS)}>Clear filters</Button>}
            >
              <p>The action filter matches the start of the action name: “backup” finds every backup action.</p>
            </EmptyState>
          ) : (
            <EmptyState icon={<AuditIcon size={22} />} title="The audit log is empty" headingLevel={3}>
              <p>Sign-ins, API token changes and backup operations are recorded here as they happen.</p>
            </EmptyState>
          )
        }
      >
        <table className="table table-stacked audit-table" data-testid="audit-table">
          <caption className="visually-hidden">Audit log entries, newest first</caption>
          <thead>
            <tr>
              <th scope="col">What happened</th>
              <th scope="col">User</th>
              <th scope="col">IP address</th>
              <th scope="col">Time</th>
              <th scope="col">Result</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((entry) => (
              <AuditRow key={entry.id} entry={entry} />
            ))}
          </tbody>
        </table>
      </PagedList>
    </Card>
  );
}

function AuditRow({ entry }: { entry: AuditEntry }) {
  return (
    <tr data-testid={`audit-entry-${entry.id}`}>
      <td data-label="What happened" data-wide className="audit-what">
        <AuditWhat entry={entry} />
      </td>
      <td data-label="User" className="cell-strong audit-who">
        {entry.actor_name}
      </td>
      <td data-label="IP address" data-empty={!entry.ip || undefined} className="nowrap audit-ip">
        {entry.ip ? formatIp(entry.ip) : <span className="muted">–</span>}
      </td>
      <td data-label="Time" className="nowrap audit-when">
        <DateTime value={entry.created_at} relative stacked />
      </td>
      <td data-label="Result" className="audit-result">
        <AuditResult entry={entry} />
      </td>
    </tr>
  );
}
