/**
 * A whole-page message in a centred card: "Admins only", "Page not found", "Something
 * went wrong", or a future "Restore in progress". Server-safe (no hooks).
 *
 *   <StatusPage icon={<ShieldIcon size={28} />} title="Admins only"
 *     actions={<ButtonLink href="/">Back to home</ButtonLink>}>
 *     This page needs an administrator account.
 *   </StatusPage>
 */
import type { ReactNode } from "react";
import { cx } from "./class-names";

export function StatusPage({
  icon,
  title,
  children,
  meta,
  actions,
  tone = "accent",
  headingLevel = 1,
  role,
  testId,
}: {
  icon?: ReactNode;
  title: string;
  /** The explanation: what happened and what to do. */
  children?: ReactNode;
  /** A small line under the text (e.g. an error reference). */
  meta?: ReactNode;
  actions?: ReactNode;
  /** "danger" tints the icon red (errors). */
  tone?: "accent" | "danger";
  /** 2 when the page already has its h1. */
  headingLevel?: 1 | 2;
  /** "alert" for errors that appear in place of content. */
  role?: "alert";
  testId?: string;
}) {
  const Heading = headingLevel === 2 ? "h2" : "h1";
  return (
    <div className="status-page" role={role} data-testid={testId}>
      {icon ? (
        <div className={cx("status-page-icon", tone === "danger" && "status-page-icon-danger")} aria-hidden="true">
          {icon}
        </div>
      ) : null}
      <Heading className="status-page-title">{title}</Heading>
      {children ? <p className="status-page-text">{children}</p> : null}
      {meta ? <p className="status-page-meta">{meta}</p> : null}
      {actions ? <div className="status-page-actions">{actions}</div> : null}
    </div>
  );
}
