"use client";

/**
 * The body of a list loaded page by page (an infinite query): a spinner while the first page
 * loads, the error with a retry, the empty state, or the table with "Showing N of M" and a
 * "Load more" button. Shared by the audit log and the Backup tab's activity card.
 */
import type { ReactNode } from "react";
import { Button } from "./button";
import { formatCount } from "@/lib/format";
import { QueryError } from "./query-error";
import { Spinner } from "./spinner";

/** What PagedList reads from a tRPC/TanStack infinite query. */
export interface PagedQuery {
  isPending: boolean;
  isError: boolean;
  isFetching: boolean;
  isFetchingNextPage: boolean;
  isFetchNextPageError: boolean;
  hasNextPage: boolean;
  error: unknown;
  refetch: () => unknown;
  fetchNextPage: () => unknown;
}

export function PagedList({
  query,
  shown,
  total,
  loadingText,
  errorTitle,
  empty,
  endText,
  children,
}: {
  query: PagedQuery;
  /** Rows loaded so far, and rows in all. */
  shown: number;
  total: number;
  loadingText: string;
  errorTitle: string;
  /** Shown when there are no rows (an EmptyState). */
  empty: ReactNode;
  /** Shown in the footer once every page is loaded. */
  endText?: string;
  /** The table. */
  children: ReactNode;
}) {
  return (
    <div aria-busy={query.isFetching}>
      {query.isPending ? (
        <div className="loading-block">
          <Spinner /> {loadingText}
        </div>
      ) : query.isError && shown === 0 ? (
        <QueryError title={errorTitle} error={query.error} onRetry={() => void query.refetch()} />
      ) : shown === 0 ? (
        empty
      ) : (
        <>
          <div className="table-wrap">{children}</div>
          <div className="table-footer">
            <span>
              Showing {formatCount(shown)} of {formatCount(total)}
            </span>
            {query.hasNextPage ? (
              <Button onClick={() => void query.fetchNextPage()} loading={query.isFetchingNextPage}>
                Load more
              </Button>
            ) : endText ? (
              <span className="muted">{endText}</span>
            ) : null}
          </div>
          {query.isFetchNextPageError ? <QueryError title="More entries could not be loaded" error={query.error} /> : null}
        </>
      )}
    </div>
  );
}
