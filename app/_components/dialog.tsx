"use client";
/**
 * Modal dialogs on the native <dialog> element: the browser traps focus inside, makes the
 * page behind inert and closes on Escape. Focus goes back to the control that opened the
 * dialog when it closes, however it closes (Escape, Cancel, after success, unmounted); if
 * that control is gone (the row was deleted), to the same control in the next row, else
 * the previous row, else the first control of the nearest part of the page still there.
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
import { BreakableText } from "./breakable-text";
import { Button } from "./button";
import { cx } from "./class-names";
import { XIcon } from "./icons";

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';

/** Where focus was when a dialog opened, and what to fall back on if that element goes. */
interface FocusReturn {
  opener: HTMLElement;
  /** The opener's row (table row or list item) and its neighbours then. */
  row: Element | null;
  next: Element | null;
  previous: Element | null;
  /** The opener's position among the row's controls, to pick the same one in another row. */
  index: number;
  ancestors: Element[];
}

function focusables(root: Element): HTMLElement[] {
  return Array.from(root.querySelectorAll<HTMLElement>(FOCUSABLE)).filter(
    (el) => el.getClientRects().length > 0 && !el.closest("[inert], dialog:not([open])"),
  );
}

function rememberFocus(): FocusReturn | null {
  const opener = document.activeElement;
  if (!(opener instanceof HTMLElement) || opener === document.body) return null;
  const row = opener.closest("tr, li");
  const ancestors: Element[] = [];
  for (let el = opener.parentElement; el && el !== document.body; el = el.parentElement) ancestors.push(el);
  return {
    opener,
    row,
    next: row?.nextElementSibling ?? null,
    previous: row?.previousElementSibling ?? null,
    index: row ? focusables(row).indexOf(opener) : -1,
    ancestors,
  };
}

function focusFirstIn(root: Element | null, index = 0): boolean {
  if (!root?.isConnected) return false;
  const candidates = focusables(root);
  const target = candidates[Math.min(Math.max(index, 0), candidates.length - 1)];
  if (!target) return false;
  target.focus();
  return true;
}

function restoreFocus(saved: FocusReturn | null): void {
  if (!saved) return;
  const { opener } = saved;
  if (opener.isConnected && opener.getClientRects().length > 0 && !opener.matches(":disabled")) {
    opener.focus();
    return;
  }
  if (saved.row && (focusFirstIn(saved.next, saved.index) || focusFirstIn(saved.previous, saved.index))) return;
  for (const ancestor of saved.ancestors) {
    if (!ancestor.isConnected) continue;
    if (focusFirstIn(ancestor)) return;
  }
}

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

  const returnFocus = useRef<FocusReturn | null>(null);

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      returnFocus.current = rememberFocus();
      dialog.showModal();
      initialFocus?.current?.focus();
    } else if (!open && dialog.open) {
      dialog.close();
      restoreFocus(returnFocus.current);
      returnFocus.current = null;
    }
  }, [open, initialFocus]);

  // Closing by unmounting (the parent stops rendering it) must not leave the page inert,
  // and focus must not fall to <body>.
  useEffect(() => {
    const dialog = ref.current;
    return () => {
      if (!dialog?.open && !returnFocus.current) return;
      dialog?.close();
      restoreFocus(returnFocus.current);
      returnFocus.current = null;
    };
  }, []);

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
              {typeof title === "string" ? <BreakableText text={title} /> : title}
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
