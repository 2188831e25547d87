"use client";
/**
 * The key an admin types for one operation on an encrypted backup (restore, verify, bringing
 * one back from a bucket): its passphrase, or its private key (the AGE-SECRET-KEY-1… line of
 * an age key file). Sent with that one request, never stored.
 */
import { TextField } from "@/app/_components/field";
import type { BackupRecord } from "./backup-labels";

/** An age identity line, as opposed to a passphrase. */
export function isIdentityLine(key: string): boolean {
  return key.trim().startsWith("AGE-SECRET-KEY-1");
}

/**
 * The request's key fields: none for an empty key; otherwise by the backup's kind of
 * encryption, or, where it is not known (a file in a bucket), by the key's own form.
 */
export function archiveKeyFields(key: string, encryption?: BackupRecord["encryption"]): { passphrase?: string; identity?: string } {
  const trimmed = key.trim();
  if (!trimmed) return {};
  const identity = encryption ? encryption !== "passphrase" : isIdentityLine(trimmed);
  return identity ? { identity: trimmed } : { passphrase: key };
}

/** The key field of a known encrypted backup, labelled for its kind of encryption. */
export function ArchiveKeyField({
  encryption,
  value,
  onChange,
  disabled,
  hint,
  testId,
  autoFocus,
}: {
  encryption: NonNullable<BackupRecord["encryption"]>;
  value: string;
  onChange: (key: string) => void;
  disabled?: boolean;
  hint: string;
  testId: string;
  autoFocus?: boolean;
}) {
  return (
    <TextField
      label={encryption === "passphrase" ? "Passphrase of this backup" : "Private key (AGE-SECRET-KEY-1…)"}
      name="archive_key"
      type="password"
      autoComplete="off"
      spellCheck={false}
      autoFocus={autoFocus}
      value={value}
      onChange={(e) => onChange(e.target.value)}
      disabled={disabled}
      data-testid={testId}
      hint={hint}
    />
  );
}
