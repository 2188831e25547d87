/**
 * Page structure shared by every view: a PageHeader (the h1 of the page, a description
 * and actions on the right) and Cards (titled sections). Server-safe: no hooks.
 *
 *   <PageHeader title="Audit log" description="Who did what, and when."
 *     actions={<Button>Refresh</Button>} />
 *   <Card title="Storage" description="Where BaluHost keeps its data.">…</Card>
 */
import type { ReactNode } from "react";
import { cx } from "./class-names";

export function PageHeader({
  title,
  description,
  actions,
  eyebrow,
}: {
  title: string;
  description?: ReactNode;
  actions?: ReactNode;
  /** A small line above the title (e.g. the section name). */
  eyebrow?: ReactNode;
}) {
  return (
    <div className="page-header">
      <div className="page-header-text">
        {eyebrow ? <p className="page-eyebrow">{eyebrow}</p> : null}
        <h1 className="page-title">{title}</h1>
        {description ? <p className="page-description">{description}</p> : null}
      </div>
      {actions ? <div className="page-header-actions">{actions}</div> : null}
    </div>
  );
}

export function Card({
  title,
  description,
  actions,
  children,
  className,
  headingLevel = 2,
  flush = false,
  id,
}: {
  title?: ReactNode;
  description?: ReactNode;
  /** Buttons in the card header, right-aligned. */
  actions?: ReactNode;
  children?: ReactNode;
  className?: string;
  headingLevel?: 2 | 3;
  /** No inner padding for the body (for tables that run edge to edge). */
  flush?: boolean;
  id?: string;
}) {
  const Heading = headingLevel === 3 ? "h3" : "h2";
  const hasHeader = title || description || actions;
  return (
    <section className={cx("card", className)} id={id}>
      {hasHeader ? (
        <div className="card-header">
          <div className="card-header-text">
            {title ? <Heading className="card-title">{title}</Heading> : null}
            {description ? <p className="card-description">{description}</p> : null}
          </div>
          {actions ? <div className="card-actions">{actions}</div> : null}
        </div>
      ) : null}
      {children ? <div className={cx("card-body", flush && "card-body-flush")}>{children}</div> : null}
    </section>
  );
}
