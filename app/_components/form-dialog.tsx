"use client";
/**
 * A dialog around one form, with Cancel and a submit button in its footer: the shape of
 * every "Add …" / "Edit …" dialog. The form gets the id the submit button points at, so
 * Enter in a field and the button submit the same way.
 */
import { useId, type FormEvent, type ReactNode } from "react";
import { Button } from "./button";
import { Dialog } from "./dialog";

export function FormDialog({
  title,
  description,
  submitLabel,
  busy,
  onClose,
  onSubmit,
  children,
}: {
  title: string;
  description?: string;
  submitLabel: string;
  busy: boolean;
  onClose: () => void;
  onSubmit: (event: FormEvent<HTMLFormElement>) => void;
  children: ReactNode;
}) {
  const formId = useId();
  return (
    <Dialog
      open
      onOpenChange={(open) => {
        if (!open) onClose();
      }}
      size="md"
      title={title}
      description={description}
      busy={busy}
      footer={
        <>
          <Button onClick={onClose} disabled={busy}>
            Cancel
          </Button>
          <Button type="submit" form={formId} variant="primary" loading={busy}>
            {submitLabel}
          </Button>
        </>
      }
    >
      <form id={formId} onSubmit={onSubmit} noValidate className="stack-sm" style={{ gap: "var(--space-4)" }}>
        {children}
      </form>
    </Dialog>
  );
}
