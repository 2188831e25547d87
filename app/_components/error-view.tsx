"use client";
/**
 * The body of an error boundary (app/error.tsx, app/(app)/error.tsx). The server never
 * sends the real error text to the browser, only a digest to find it in the log, so this
 * says what to do, not what broke.
 */
import { useEffect } from "react";
import { Button, ButtonLink } from "./button";
import { AlertTriangleIcon, RefreshIcon } from "./icons";
import { StatusPage } from "./status-page";

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
  return (
    <StatusPage
      icon={<AlertTriangleIcon size={28} />}
      tone="danger"
      role="alert"
      title="Something went wrong"
      headingLevel={headingLevel}
      meta={error.digest ? `Error reference: ${error.digest}` : undefined}
      actions={
        <>
          <Button variant="primary" icon={<RefreshIcon size={14} />} onClick={() => reset()}>
            Try again
          </Button>
          <ButtonLink href="/">Back to home</ButtonLink>
        </>
      }
    >
      This page could not be shown. Try again; if it keeps failing, the server log has the details.
    </StatusPage>
  );
}
