"use client";
/**
 * A query that failed, shown where its data would be: what could not be loaded, the
 * server's message, and a Try again button.
 *
 *   if (list.isError) return <QueryError title="The backups could not be loaded"
 *                              error={list.error} onRetry={() => list.refetch()} />;
 */
import { errorMessage } from "../_trpc/errors";
import { Button } from "./button";
import { Callout } from "./callout";

export function QueryError({
  title,
  error,
  onRetry,
  inset = true,
}: {
  title: string;
  error: unknown;
  onRetry?: () => void;
  /** Pad it like a card body (default), for use inside a flush Card. */
  inset?: boolean;
}) {
  const callout = (
    <Callout
      tone="danger"
      title={title}
      action={
        onRetry ? (
          <Button size="sm" onClick={onRetry}>
            Try again
          </Button>
        ) : undefined
      }
    >
      {errorMessage(error)}
    </Callout>
  );
  return inset ? <div className="inset">{callout}</div> : callout;
}
