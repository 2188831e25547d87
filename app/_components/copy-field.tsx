"use client";
/**
 * A read-only value with a Copy button (tokens, commands, paths). Copying works on plain
 * http too: NAS web UIs are often reached over http on the LAN, where the Clipboard API is
 * missing, so it falls back to selecting the text and execCommand("copy"); if even that
 * fails the text is left selected and the user is told to press Ctrl+C.
 *
 *   <CopyField label="Your new token" value={token} />
 *   <CopyField label="Example" value={curlCommand} />
 */
import { useId, useRef, useState } from "react";
import { Button } from "./button";
import { cx } from "./class-names";
import { CheckIcon, CopyIcon } from "./icons";
import { toast } from "./toaster";

async function copyText(text: string, fallbackTarget: HTMLTextAreaElement | null): Promise<boolean> {
  if (typeof navigator !== "undefined" && navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // fall through to the selection-based copy
    }
  }
  if (!fallbackTarget) return false;
  fallbackTarget.focus();
  fallbackTarget.select();
  try {
    return document.execCommand("copy");
  } catch {
    return false;
  }
}

export function CopyField({
  label,
  value,
  multiline,
  hideLabel = false,
  className,
}: {
  label: string;
  value: string;
  /** Expect several lines (default: when the value has a newline or is long). */
  multiline?: boolean;
  hideLabel?: boolean;
  className?: string;
}) {
  const id = useId();
  const areaRef = useRef<HTMLTextAreaElement>(null);
  const [copied, setCopied] = useState(false);
  const manyLines = multiline ?? (value.includes("\n") || value.length > 80);

  const onCopy = async () => {
    const ok = await copyText(value, areaRef.current);
    if (ok) {
      setCopied(true);
      window.setTimeout(() => setCopied(false), 2000);
      toast.success("Copied to the clipboard");
    } else {
      toast.info("Press Ctrl+C (or ⌘C) to copy", { description: "The text is selected." });
    }
  };

  return (
    <div className={cx("field", "copy-field", className)}>
      <label htmlFor={id} className={cx("field-label", hideLabel && "visually-hidden")}>
        {label}
      </label>
      <div className="copy-field-row">
        {/* A text area, so a long value wraps on a phone instead of hiding its end; it
            grows with its content where field-sizing is supported, else `rows` applies. */}
        <textarea
          id={id}
          ref={areaRef}
          className="input mono copy-field-value"
          readOnly
          value={value}
          rows={manyLines ? Math.min(6, value.split("\n").length + 1) : 1}
          spellCheck={false}
          onFocus={(e) => e.currentTarget.select()}
        />
        <Button onClick={onCopy} icon={copied ? <CheckIcon /> : <CopyIcon />} aria-label={`Copy ${label.toLowerCase()}`}>
          {copied ? "Copied" : "Copy"}
        </Button>
      </div>
    </div>
  );
}
