"use client";
/** The last resort when even the root layout failed: its own document, the same styles and message. */
import { ErrorView } from "./_components/error-view";
import "./globals.css";

export default function GlobalError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <html lang="en">
      <body>
        <main className="centered-page">
          <ErrorView error={error} reset={reset} />
        </main>
      </body>
    </html>
  );
}
