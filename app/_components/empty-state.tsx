/**
 * What a view shows when it has nothing to list: an icon, a title saying what is missing,
 * a sentence on why it matters or how to get started, and optionally an action.
 *
 *   <EmptyState icon={<ArchiveIcon />} title="No backups yet"
 *     action={<Button variant="primary">Create backup</Button>}>
 *     A backup holds the database, user files and config.
 *   </EmptyState>
 */
import type { ReactNode } from "react";
import { cx } from "./class-names";

export function EmptyState({
  icon,
  title,
  children,
  action,
  headingLevel = 2,
  className,
}: {
  icon?: ReactNode;
  title: string;
  /** The explanation under the title. */
  children?: ReactNode;
  /** A button or link (or a few) below the text. */
  action?: ReactNode;
  /** The heading level of the title, to fit the page outline (default h2). */
  headingLevel?: 2 | 3;
  className?: string;
}) {
  const Heading = headingLevel === 3 ? "h3" : "h2";
  return (
    <div className={cx("empty-state", className)}>
      {icon ? (
        <div className="empty-state-icon" aria-hidden="true">
          {icon}
        </div>
      ) : null}
      <Heading className="empty-state-title">{title}</Heading>
      {children ? <div className="empty-state-body">{children}</div> : null}
      {action ? <div className="empty-state-action">{action}</div> : null}
    </div>
  );
}
