/**
 * A labelled progress bar: `<ProgressBar value={42} label="Backup progress" />`.
 * Without a value it is indeterminate (a moving stripe), for work whose size is not
 * known yet (an upload being verified, a restore step without byte counts).
 */
import { cx } from "@/app/_components/class-names";
import styles from "./backup.module.css";

export function ProgressBar({
  value,
  label,
  tone = "accent",
  className,
}: {
  /** 0–100, or null/undefined for indeterminate. */
  value?: number | null;
  /** What is progressing, read out by screen readers. */
  label: string;
  tone?: "accent" | "success" | "danger";
  className?: string;
}) {
  const known = typeof value === "number" && Number.isFinite(value);
  const percent = known ? Math.max(0, Math.min(100, value)) : 0;
  return (
    <div
      className={cx(styles.progress, !known && styles.progressIndeterminate, styles[`progress-${tone}`], className)}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={known ? Math.round(percent) : undefined}
    >
      <div className={styles.progressFill} style={known ? { width: `${percent}%` } : undefined} />
    </div>
  );
}
