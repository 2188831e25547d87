/**
 * Buttons, and links that look like buttons.
 *
 *   <Button variant="primary" onClick={save} loading={mutation.isPending}>Save</Button>
 *   <Button variant="danger" icon={<TrashIcon />}>Delete</Button>
 *   <ButtonLink href="/settings/backup" variant="secondary">Open backups</ButtonLink>
 *
 * Variants: primary (the one main action of a view), secondary (default), danger
 * (destructive), ghost (low-emphasis, toolbars). Sizes: "md" (default) and "sm".
 * `type` defaults to "button", so a Button inside a form never submits by accident:
 * pass type="submit" for the submit button. `loading` disables the button, shows a
 * spinner and sets aria-busy; the label stays so the width does not jump.
 */
import Link from "next/link";
import type { ButtonHTMLAttributes, ComponentProps, ReactNode, Ref } from "react";
import { cx } from "./class-names";
import { Spinner } from "./spinner";

export type ButtonVariant = "primary" | "secondary" | "danger" | "ghost";
export type ButtonSize = "sm" | "md";

interface ButtonLookProps {
  variant?: ButtonVariant;
  size?: ButtonSize;
  /** An icon before the label (e.g. <PlusIcon />). */
  icon?: ReactNode;
  /** Only an icon, no visible label: give `aria-label` too. */
  iconOnly?: boolean;
}

export function buttonClassName({
  variant = "secondary",
  size = "md",
  iconOnly = false,
  className,
}: ButtonLookProps & { className?: string }): string {
  return cx("btn", `btn-${variant}`, size === "sm" && "btn-sm", iconOnly && "btn-icon", className);
}

export interface ButtonProps extends ButtonHTMLAttributes<HTMLButtonElement>, ButtonLookProps {
  ref?: Ref<HTMLButtonElement>;
  /** Shows a spinner, disables the button and marks it busy. */
  loading?: boolean;
}

export function Button({
  variant,
  size,
  icon,
  iconOnly,
  loading = false,
  disabled,
  className,
  type = "button",
  children,
  ...rest
}: ButtonProps) {
  return (
    <button
      type={type}
      className={buttonClassName({ variant, size, iconOnly, className })}
      disabled={disabled || loading}
      aria-busy={loading || undefined}
      {...rest}
    >
      {loading ? <Spinner size={size === "sm" ? 12 : 14} /> : icon}
      {children}
    </button>
  );
}

export type ButtonLinkProps = ComponentProps<typeof Link> & ButtonLookProps;

/** A next/link styled as a button: navigation that looks like an action. */
export function ButtonLink({ variant, size, icon, iconOnly, className, children, ...rest }: ButtonLinkProps) {
  return (
    <Link className={buttonClassName({ variant, size, iconOnly, className })} {...rest}>
      {icon}
      {children}
    </Link>
  );
}
