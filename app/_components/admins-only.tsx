/**
 * What a signed-in non-admin sees on an admin page: a plain explanation, not an error.
 * Pages render it themselves (`if (!admin) return <AdminsOnly />`), so the navigation
 * stays around it and the visitor can simply go on.
 */
import { ButtonLink } from "./button";
import { ArrowLeftIcon, ShieldIcon } from "./icons";
import { StatusPage } from "./status-page";

export function AdminsOnly({
  what,
  headingLevel = 1,
}: {
  /** What needs the admin role, e.g. "The Backup tab" (default "This page"). */
  what?: string;
  /** 2 when the page already has its h1 (e.g. inside Settings). */
  headingLevel?: 1 | 2;
}) {
  return (
    <StatusPage
      icon={<ShieldIcon size={28} />}
      title="Admins only"
      headingLevel={headingLevel}
      testId="admins-only"
      actions={
        <ButtonLink href="/" variant="primary" icon={<ArrowLeftIcon />}>
          Back to home
        </ButtonLink>
      }
    >
      {what ?? "This page"} needs an administrator account. You are signed in as a regular user. If you need access,
      ask an administrator of this BaluHost.
    </StatusPage>
  );
}
