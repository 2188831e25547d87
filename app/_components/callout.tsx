/**
 * A highlighted message inside a page: a warning before a risky step, an error that
 * blocks a view, a success note. Tones: info (default), success, warning, danger.
 * Danger callouts are announced (role="alert"); the others are plain content.
 *
 *   <Callout tone="warning" title="Copy this token now">It is shown only once.</Callout>
 */
import type { ReactNode } from "react";
import { cx } from "./class-names";
import { AlertTriangleIcon, CheckCircleIcon, InfoIcon, XCircleIcon } from "./icons";

export type CalloutTone = "info" | "success" | "warning" | "danger";

const ICONS = {
  info: InfoIcon,
  success: CheckCircleIcon,
  warning: AlertTriangleIcon,
  danger: XCircleIcon,
} as const;

export function Callout({
  tone = "info",
  title,
  children,
  action,
  className,
}: {
  tone?: CalloutTone;
  title?: ReactNode;
  children?: ReactNode;
  /** A button (e.g. "Try again") at the end of the callout. */
  action?: ReactNode;
  className?: string;
}) {
  const Icon = ICONS[tone];
  return (
    <div className={cx("callout", `callout-${tone}`, className)} role={tone === "danger" ? "alert" : undefined}>
      <Icon size={18} className="callout-icon" />
      <div className="callout-content">
        {title ? <p className="callout-title">{title}</p> : null}
        {children ? <div className="callout-body">{children}</div> : null}
      </div>
      {action ? <div className="callout-action">{action}</div> : null}
    </div>
  );
}
