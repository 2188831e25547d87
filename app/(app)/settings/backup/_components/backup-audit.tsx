"use client";
/**
 * Backup activity: the audit log's backup entries (action prefix "backup."), newest
 * first, filtered by action and user, 20 at a time with "Load more" (keyset pagination
 * through next_cursor). Who did what, when, and whether it worked, in the audit log's
 * words (app/_lib/audit-words.ts), the details as labelled fields.
 */
import { keepPreviousData } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Button } from "@/app/_components/button";
import { DateTime } from "@/app/_components/date-time";
import { EmptyState } from "@/app/_components/empty-state";
import { SelectField, TextField } from "@/app/_components/field";
import { formatCount, formatIp } from "@/lib/format";
import { AuditIcon, RefreshIcon, SearchIcon } from "@/app/_components/icons";
import { Card } from "@/app/_components/layout-parts";
import { PagedList } from "@/app/_components/paged-list";
import { AuditResult, AuditWhat } from "@/app/_components/audit-entry";
import { BACKUP_AUDIT_ACTIONS } from "@/app/_lib/audit-words";
import { trpc } from "@/app/_trpc/client";
import { backupAuditInput, NO_BACKUP_AUDIT_FILTERS, type BackupAuditFilters } from "./backup-audit-input";

export function BackupAudit() {
  const [filters, setFilters] = useState<BackupAuditFilters>(NO_BACKUP_AUDIT_FILTERS);
  const [userDraft, setUserDraft] = useState("");
  const query = trpc.audit.list.useInfiniteQuery(backupAuditInput(filters), {
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    placeholderData: keepPreviousData,
  });

  const entries = query.data?.pages.flatMap((p) => p.entries) ?? [];
  const total = query.data?.pages[0]?.total ?? 0;
  const filtered = Boolean(filters.action || filters.user);

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setFilters({ ...filters, user: userDraft.trim() });
  };

  const clear = () => {
    setFilters(NO_BACKUP_AUDIT_FILTERS);
    setUserDraft("");
  };

  return (
    <Card
      flush
      headingLevel={3}
      title="Backup activity"
      description={
        query.data
          ? `${formatCount(total)} ${filtered ? "matching " : ""}${total === 1 ? "entry" : "entries"} in the audit log`
          : "Every backup operation, from the audit log."
      }
      actions={
        <Button
          size="sm"
          icon={<RefreshIcon size={14} />}
          onClick={() => void query.refetch()}
          loading={query.isFetching && !query.isFetchingNextPage}
        >
          Refresh
        </Button>
      }
    >
      <form className="toolbar" onSubmit={onSubmit} role="search" aria-label="Filter backup activity">
        <div className="form-row">
          <SelectField
            label="Action"
            name="audit_action"
            value={filters.action}
            onChange={(e) => setFilters({ ...filters, action: e.target.value })}
          >
            <option value="">All backup actions</option>
            {BACKUP_AUDIT_ACTIONS.map((a) => (
              <option key={a.value} value={a.value}>
                {a.label}
              </option>
            ))}
          </SelectField>
          <TextField
            label="User"
            name="audit_user"
            placeholder="Username"
            value={userDraft}
            onChange={(e) => setUserDraft(e.target.value)}
            maxLength={100}
            autoComplete="off"
            spellCheck={false}
          />
          <div className="form-row-actions">
            <Button type="submit" icon={<SearchIcon size={14} />}>
              Filter
            </Button>
            {filtered || userDraft ? (
              <Button variant="ghost" onClick={clear}>
                Clear
              </Button>
            ) : null}
          </div>
        </div>
      </form>

      <PagedList
        query={query}
        shown={entries.length}
        total={total}
        loadingText="Loading backup activity…"
        errorTitle="The backup activity could not be loaded"
        empty={
          filtered ? (
            <EmptyState
              icon={<SearchIcon size={22} />}
              title="No backup activity matches these filters"
              headingLevel={3}
              action={<Button onClick={clear}>Clear filters</Button>}
            >
              <p>The user filter matches the exact username.</p>
            </EmptyState>
          ) : (
            <EmptyState icon={<AuditIcon size={22} />} title="No backup activity yet" headingLevel={3}>
              <p>Creating, downloading, restoring and deleting backups is recorded here.</p>
            </EmptyState>
          )
        }
      >
        <table className="table table-stacked audit-table" data-testid="backup-audit-table">
          <caption className="visually-hidden">Backup activity, newest first</caption>
          <thead>
            <tr>
              <th scope="col">What</th>
              <th scope="col">Who</th>
              <th scope="col">When</th>
              <th scope="col">Result</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((entry) => (
              <tr key={entry.id}>
                <td data-label="What" data-wide className="audit-what">
                  <AuditWhat entry={entry} />
                </td>
                <td data-label="Who" className="cell-strong audit-who">
                  {entry.actor_name}
                  {entry.ip ? <span className="cell-sub">{formatIp(entry.ip)}</span> : null}
                </td>
                <td data-label="When" className="nowrap audit-when">
                  <DateTime value={entry.created_at} relative stacked />
                </td>
                <td data-label="Result" className="audit-result">
                  <AuditResult entry={entry} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </PagedList>
    </Card>
  );
}
