/**
 * A small status label: `<Badge tone="success">Completed</Badge>`.
 * Tones: neutral (default), accent, success, warning, danger. `dot` adds a coloured dot
 * before the text. The colour is never the only signal: the text must say it too.
 */
import type { ReactNode } from "react";
import { cx } from "./class-names";

export type BadgeTone = "neutral" | "accent" | "success" | "warning" | "danger";

export function Badge({
  tone = "neutral",
  dot = false,
  className,
  title,
  children,
}: {
  tone?: BadgeTone;
  dot?: boolean;
  className?: string;
  title?: string;
  children: ReactNode;
}) {
  return (
    <span className={cx("badge", `badge-${tone}`, className)} title={title}>
      {dot ? <span className="badge-dot" aria-hidden="true" /> : null}
      {children}
    </span>
  );
}
