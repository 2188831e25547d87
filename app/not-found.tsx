/** Any address that matches no page. */
import type { Metadata } from "next";
import { ButtonLink } from "./_components/button";
import { ArrowLeftIcon, CompassIcon } from "./_components/icons";
import { Logo } from "./_components/logo";

export const metadata: Metadata = { title: "Page not found" };

export default function NotFound() {
  return (
    <main className="centered-page">
      <Logo />
      <div className="status-page">
        <div className="status-page-icon" aria-hidden="true">
          <CompassIcon size={28} />
        </div>
        <h1 className="status-page-title">Page not found</h1>
        <p className="status-page-text">
          There is no page at this address. It may have moved, or the link may be mistyped.
        </p>
        <div className="status-page-actions">
          <ButtonLink href="/" variant="primary" icon={<ArrowLeftIcon />}>
            Back to home
          </ButtonLink>
        </div>
      </div>
    </main>
  );
}
