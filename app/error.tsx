"use client";
/** Errors outside the signed-in area (or in its layout): a page of its own. */
import { ErrorView } from "./_components/error-view";

export default function ErrorPage({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <main className="centered-page">
      <ErrorView error={error} reset={reset} />
    </main>
  );
}
