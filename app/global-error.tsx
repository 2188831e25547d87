"use client";
/** The last resort when even the root layout failed: its own document, the same styles. */
import "./globals.css";

export default function GlobalError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <html lang="en">
      <body>
        <main className="centered-page">
          <div className="status-page" role="alert">
            <h1 className="status-page-title">BaluHost could not load</h1>
            <p className="status-page-text">
              Something went wrong while loading the app. Try again; if it keeps failing, the server log has the
              details.
            </p>
            {error.digest ? <p className="status-page-meta">Error reference: {error.digest}</p> : null}
            <div className="status-page-actions">
              <button type="button" className="btn btn-primary" onClick={() => reset()}>
                Try again
              </button>
              {/* A plain link: the router may be what failed. */}
              {/* eslint-disable-next-line @next/next/no-html-link-for-pages */}
              <a className="btn btn-secondary" href="/">
                Back to home
              </a>
            </div>
          </div>
        </main>
      </body>
    </html>
  );
}
