"use client";
/**
 * Modal dialogs on the native <dialog> element: the browser traps focus inside, makes the
 * page behind inert, closes on Escape and returns focus to the control that opened it.
 *
 * Controlled: the parent owns `open` and gets every close request (Escape, the × button,
 * a click on the backdrop, Cancel) through `onOpenChange(false)`. While `busy` is true
 * (an operation the dialog started is running), those requests are ignored, so a restore
 * cannot be "closed" half-way.
 *
 *   <Dialog open={open} onOpenChange={setOpen} title="Rename backup"
 *     footer={<><Button onClick={() => setOpen(false)}>Cancel</Button>
 *               <Button variant="primary" onClick={save}>Save</Button></>}>
 *     <TextField label="Name" … />
 *   </Dialog>
 *
 *   <ConfirmDialog open={…} onOpenChange={…} title="Revoke token “ci”?"
 *     confirmLabel="Revoke" tone="danger" onConfirm={revoke} busy={isPending}>
 *     Scripts that use it stop working at once.
 *   </ConfirmDialog>
 */
import { useEffect, useId, useRef, type ReactNode, type RefObject } from "react";
import { Button } from "./button";
import { cx } from "./class-names";
import { XIcon } from "./icons";

export interface DialogProps {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  title: ReactNode;
  /** One or two sentences under the title; read out when the dialog opens. */
  description?: ReactNode;
  children?: ReactNode;
  /** Buttons at the bottom, right-aligned (put the main action last). */
  footer?: ReactNode;
  /** "sm" (default, 440px) for confirmations, "md" (560px) for forms, "lg" (760px) for tables. */
  size?: "sm" | "md" | "lg";
  /** Ignore close requests (Escape, ×, backdrop) while an operation runs. */
  busy?: boolean;
  /** The element to focus when the dialog opens; default: the first focusable one. */
  initialFocus?: RefObject<HTMLElement | null>;
  className?: string;
}

export function Dialog({
  open,
  onOpenChange,
  title,
  description,
  children,
  footer,
  size = "sm",
  busy = false,
  initialFocus,
  className,
}: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const pressStartedOnBackdrop = useRef(false);
  const titleId = useId();
  const descriptionId = useId();

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      dialog.showModal();
      initialFocus?.current?.focus();
    } else if (!open && dialog.open) {
      dialog.close();
    }
  }, [open, initialFocus]);

  // Closing by unmounting (e.g. navigating away while open) must not leave the page inert.
  useEffect(() => () => ref.current?.close(), []);

  const requestClose = () => {
    if (!busy) onOpenChange(false);
  };

  return (
    <dialog
      ref={ref}
      className={cx("dialog", `dialog-${size}`, className)}
      aria-labelledby={titleId}
      aria-describedby={description ? descriptionId : undefined}
      onCancel={(event) => {
        // Escape: keep the element open; the parent decides through `open`.
        event.preventDefault();
        requestClose();
      }}
      onClose={() => {
        if (open) onOpenChange(false);
      }}
      onPointerDown={(event) => {
        pressStartedOnBackdrop.current = event.target === ref.current;
      }}
      onClick={(event) => {
        // A click on the backdrop targets the <dialog> itself; a drag that began inside does not count.
        if (event.target === ref.current && pressStartedOnBackdrop.current) requestClose();
      }}
    >
      {open ? (
        <div className="dialog-panel">
          <div className="dialog-header">
            <h2 id={titleId} className="dialog-title">
              {title}
            </h2>
            <button
              type="button"
              className="btn btn-ghost btn-icon btn-sm dialog-close"
              aria-label="Close"
              onClick={requestClose}
              disabled={busy}
            >
              <XIcon size={16} />
            </button>
          </div>
          {description ? (
            <div id={descriptionId} className="dialog-description">
              {description}
            </div>
          ) : null}
          {children ? <div className="dialog-body">{children}</div> : null}
          {footer ? <div className="dialog-footer">{footer}</div> : null}
        </div>
      ) : null}
    </dialog>
  );
}

export interface ConfirmDialogProps {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  title: ReactNode;
  /** What will happen and whether it can be undone. */
  children?: ReactNode;
  /** The label of the confirming button: a verb naming the action ("Revoke", "Restore"). */
  confirmLabel: string;
  cancelLabel?: string;
  /** "danger" for destructive actions (red button; Cancel gets the initial focus). */
  tone?: "primary" | "danger";
  onConfirm: () => void;
  /** The action is running: the confirm button shows a spinner and the dialog cannot be closed. */
  busy?: boolean;
  /** Extra content between the text and the buttons (e.g. an error Callout). */
  extra?: ReactNode;
  /** Disables the confirm button (e.g. until the user typed the name). */
  confirmDisabled?: boolean;
}

/** A yes/no question before an action. The dialog stays open until the parent closes it. */
export function ConfirmDialog({
  open,
  onOpenChange,
  title,
  children,
  confirmLabel,
  cancelLabel = "Cancel",
  tone = "primary",
  onConfirm,
  busy = false,
  extra,
  confirmDisabled = false,
}: ConfirmDialogProps) {
  const cancelRef = useRef<HTMLButtonElement>(null);
  return (
    <Dialog
      open={open}
      onOpenChange={onOpenChange}
      title={title}
      description={children}
      busy={busy}
      initialFocus={tone === "danger" ? cancelRef : undefined}
      footer={
        <>
          <Button ref={cancelRef} onClick={() => onOpenChange(false)} disabled={busy}>
            {cancelLabel}
          </Button>
          <Button variant={tone} onClick={onConfirm} loading={busy} disabled={confirmDisabled}>
            {confirmLabel}
          </Button>
        </>
      }
    >
      {extra}
    </Dialog>
  );
}
