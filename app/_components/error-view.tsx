"use client";
/**
 * The body of an error boundary (app/error.tsx, app/(app)/error.tsx). The server never
 * sends the real error text to the browser, only a digest to find it in the log, so this
 * says what to do, not what broke.
 */
import { useEffect } from "react";
import { Button, ButtonLink } from "./button";
import { AlertTriangleIcon, RefreshIcon } from "./icons";

export function ErrorView({
  error,
  reset,
  headingLevel = 1,
}: {
  error: Error & { digest?: string };
  reset: () => void;
  headingLevel?: 1 | 2;
}) {
  useEffect(() => {
    console.error(error);
  }, [error]);
  const Heading = headingLevel === 2 ? "h2" : "h1";
  return (
    <div className="status-page" role="alert">
      <div className="status-page-icon status-page-icon-danger" aria-hidden="true">
        <AlertTriangleIcon size={28} />
      </div>
      <Heading className="status-page-title">Something went wrong</Heading>
      <p className="status-page-text">
        This page could not be shown. Try again; if it keeps failing, the server log has the details.
      </p>
      {error.digest ? <p className="status-page-meta">Error reference: {error.digest}</p> : null}
      <div className="status-page-actions">
        <Button variant="primary" icon={<RefreshIcon size={14} />} onClick={() => reset()}>
          Try again
        </Button>
        <ButtonLink href="/">Back to home</ButtonLink>
      </div>
    </div>
  );
}
