/**
 * What a signed-in non-admin sees on an admin page: a plain explanation, not an error.
 * Pages render it themselves (`if (!admin) return <AdminsOnly />`), so the navigation
 * stays around it and the visitor can simply go on.
 */
import { ButtonLink } from "./button";
import { ArrowLeftIcon, ShieldIcon } from "./icons";

export function AdminsOnly({
  what,
  headingLevel = 1,
}: {
  /** What needs the admin role, e.g. "The Backup tab" (default "This page"). */
  what?: string;
  /** 2 when the page already has its h1 (e.g. inside Settings). */
  headingLevel?: 1 | 2;
}) {
  const Heading = headingLevel === 2 ? "h2" : "h1";
  return (
    <div className="status-page" data-testid="admins-only">
      <div className="status-page-icon" aria-hidden="true">
        <ShieldIcon size={28} />
      </div>
      <Heading className="status-page-title">Admins only</Heading>
      <p className="status-page-text">
        {what ? `${what} needs` : "This page needs"} an administrator account. You are signed in as a
        regular user. If you need access, ask an administrator of this BaluHost.
      </p>
      <div className="status-page-actions">
        <ButtonLink href="/" variant="primary" icon={<ArrowLeftIcon />}>
          Back to home
        </ButtonLink>
      </div>
    </div>
  );
}
