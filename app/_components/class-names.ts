/** Joins class names, skipping empty ones: `cx("btn", active && "is-active")`. */
export function cx(...names: Array<string | false | null | undefined>): string {
  return names.filter(Boolean).join(" ");
}
