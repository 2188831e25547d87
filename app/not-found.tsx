/** Any address that matches no page. */
import type { Metadata } from "next";
import { ButtonLink } from "./_components/button";
import { ArrowLeftIcon, CompassIcon } from "./_components/icons";
import { Logo } from "./_components/logo";
import { StatusPage } from "./_components/status-page";

export const metadata: Metadata = { title: "Page not found" };

export default function NotFound() {
  return (
    <main className="centered-page">
      <Logo />
      <StatusPage
        icon={<CompassIcon size={28} />}
        title="Page not found"
        actions={
          <ButtonLink href="/" variant="primary" icon={<ArrowLeftIcon />}>
            Back to home
          </ButtonLink>
        }
      >
        There is no page at this address. It may have moved, or the link may be mistyped.
      </StatusPage>
    </main>
  );
}
