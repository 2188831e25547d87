"use client";
/**
 * Toasts: short notes about something that just happened ("Backup created"), shown in a
 * corner and read out by screen readers (the list sits in one polite live region). The <Toaster /> is mounted once in the root
 * layout; anywhere in client code call:
 *
 *   toast.success("Token revoked");
 *   toast.error("Could not revoke the token", { description: errorMessage(err) });
 *   toast.info("Restore started", { duration: 10_000 });
 *
 * A toast is for confirmation, not for anything the user must read to continue: errors
 * that block a form belong inline next to the form (see Callout), with the toast at most
 * as an echo. Errors stay 8 s, the others 5 s; hovering or focusing the list pauses
 * the timers, and each toast has a dismiss button.
 */
import { useEffect, useRef, useState, useSyncExternalStore } from "react";
import { BreakableText } from "./breakable-text";
import { cx } from "./class-names";
import { CheckCircleIcon, InfoIcon, XCircleIcon, XIcon } from "./icons";

export type ToastTone = "success" | "error" | "info";

export interface ToastOptions {
  description?: string;
  /** Milliseconds before it disappears (default 5000; errors 8000). */
  duration?: number;
}

interface ToastItem extends ToastOptions {
  id: number;
  tone: ToastTone;
  title: string;
}

const MAX_VISIBLE = 4;
let nextId = 1;
let items: ToastItem[] = [];
const listeners = new Set<() => void>();

function emit() {
  for (const listener of listeners) listener();
}

function push(tone: ToastTone, title: string, options: ToastOptions = {}): number {
  const id = nextId++;
  items = [...items, { id, tone, title, ...options }].slice(-MAX_VISIBLE);
  emit();
  return id;
}

function dismiss(id: number) {
  items = items.filter((item) => item.id !== id);
  emit();
}

export const toast = {
  success: (title: string, options?: ToastOptions) => push("success", title, options),
  error: (title: string, options?: ToastOptions) => push("error", title, options),
  info: (title: string, options?: ToastOptions) => push("info", title, options),
  dismiss,
};

const EMPTY: ToastItem[] = [];

function subscribe(listener: () => void) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

const ICONS = { success: CheckCircleIcon, error: XCircleIcon, info: InfoIcon } as const;

/** The toast area. Mount once, in the root layout (Providers does this). */
export function Toaster() {
  const current = useSyncExternalStore(
    subscribe,
    () => items,
    () => EMPTY,
  );
  const [paused, setPaused] = useState(false);
  return (
    // The live region exists from the start, so toasts added later are announced.
    <section
      className="toaster"
      aria-label="Notifications"
      aria-live="polite"
      aria-relevant="additions"
      onMouseEnter={() => setPaused(true)}
      onMouseLeave={() => setPaused(false)}
      onFocus={() => setPaused(true)}
      onBlur={() => setPaused(false)}
    >
      <ol className="toaster-list">
        {current.map((item) => (
          <ToastView key={item.id} item={item} paused={paused} />
        ))}
      </ol>
    </section>
  );
}

function ToastView({ item, paused }: { item: ToastItem; paused: boolean }) {
  const duration = item.duration ?? (item.tone === "error" ? 8000 : 5000);
  const remaining = useRef(duration);
  useEffect(() => {
    if (paused) return;
    const started = Date.now();
    const timer = window.setTimeout(() => dismiss(item.id), remaining.current);
    return () => {
      window.clearTimeout(timer);
      remaining.current -= Date.now() - started;
    };
  }, [paused, item.id]);
  const Icon = ICONS[item.tone];
  return (
    // A plain list item: the section around the list is the live region that announces it
    // (a role on the <li> would take it out of the list).
    <li className={cx("toast", `toast-${item.tone}`)}>
      <Icon size={18} className="toast-icon" />
      <div className="toast-content">
        <p className="toast-title">{item.title}</p>
        {item.description ? (
          <p className="toast-description">
            <BreakableText text={item.description} />
          </p>
        ) : null}
      </div>
      <button
        type="button"
        className="btn btn-ghost btn-icon btn-sm toast-close"
        aria-label="Dismiss notification"
        onClick={() => dismiss(item.id)}
      >
        <XIcon size={14} />
      </button>
    </li>
  );
}
