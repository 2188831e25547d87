"use client";
/**
 * Labelled form fields. Every input has a visible <label>; hint and error texts are tied
 * to the input with aria-describedby, and an error sets aria-invalid.
 *
 *   <TextField label="Token name" name="name" value={name} onChange={…}
 *     hint="What uses the token, e.g. “nightly offsite copy”." error={fieldError(err, "name")} />
 *   <SelectField label="Result" value={v} onChange={…}>
 *     <option value="">All</option><option value="ok">Succeeded</option>
 *   </SelectField>
 *
 * Any other <input> props (type, autoComplete, required, placeholder…) pass through.
 */
import { useId, type InputHTMLAttributes, type ReactNode, type Ref, type SelectHTMLAttributes } from "react";
import { cx } from "./class-names";

interface FieldShellProps {
  label: ReactNode;
  hint?: ReactNode;
  /** The error text; also marks the input invalid. */
  error?: ReactNode;
  /** Hide the label visually (still read out); use only when the context labels it. */
  hideLabel?: boolean;
  className?: string;
}

function FieldShell({
  id,
  label,
  hint,
  error,
  hideLabel,
  className,
  children,
}: FieldShellProps & { id: string; children: ReactNode }) {
  return (
    <div className={cx("field", error ? "field-invalid" : null, className)}>
      <label htmlFor={id} className={cx("field-label", hideLabel && "visually-hidden")}>
        {label}
      </label>
      {children}
      {hint ? (
        <p id={`${id}-hint`} className="field-hint">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={`${id}-error`} className="field-error">
          {error}
        </p>
      ) : null}
    </div>
  );
}

function describedBy(id: string, hint: unknown, error: unknown, extra?: string): string | undefined {
  const ids = [extra, hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean);
  return ids.length ? ids.join(" ") : undefined;
}

export interface TextFieldProps extends Omit<InputHTMLAttributes<HTMLInputElement>, "size">, FieldShellProps {
  ref?: Ref<HTMLInputElement>;
  /** Classes for the <input> itself (className goes to the wrapper). */
  inputClassName?: string;
}

export function TextField({
  label,
  hint,
  error,
  hideLabel,
  className,
  inputClassName,
  id: givenId,
  ...inputProps
}: TextFieldProps) {
  const autoId = useId();
  const id = givenId ?? autoId;
  return (
    <FieldShell id={id} label={label} hint={hint} error={error} hideLabel={hideLabel} className={className}>
      <input
        id={id}
        className={cx("input", inputClassName)}
        aria-invalid={error ? true : undefined}
        {...inputProps}
        aria-describedby={describedBy(id, hint, error, inputProps["aria-describedby"])}
      />
    </FieldShell>
  );
}

export interface SelectFieldProps extends SelectHTMLAttributes<HTMLSelectElement>, FieldShellProps {
  ref?: Ref<HTMLSelectElement>;
  children: ReactNode;
}

export function SelectField({
  label,
  hint,
  error,
  hideLabel,
  className,
  id: givenId,
  children,
  ...selectProps
}: SelectFieldProps) {
  const autoId = useId();
  const id = givenId ?? autoId;
  return (
    <FieldShell id={id} label={label} hint={hint} error={error} hideLabel={hideLabel} className={className}>
      <select
        id={id}
        className="input select"
        aria-invalid={error ? true : undefined}
        {...selectProps}
        aria-describedby={describedBy(id, hint, error, selectProps["aria-describedby"])}
      >
        {children}
      </select>
    </FieldShell>
  );
}
