/** A small spinning ring for pending states. Decorative unless given a `label`. */
import { cx } from "./class-names";

export function Spinner({ label, size = 16, className }: { label?: string; size?: number; className?: string }) {
  return (
    <span
      className={cx("spinner", className)}
      style={{ width: size, height: size }}
      role={label ? "status" : undefined}
      aria-label={label}
      aria-hidden={label ? undefined : true}
    />
  );
}
