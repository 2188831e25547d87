"use client";
/**
 * "Verify with key": an encrypted backup the server holds no key for can only be checked for
 * its structure (age header, size, SHA-256 as made). This dialog takes the passphrase or
 * private key for one full check (every chunk decrypted and authenticated, every file hashed);
 * the key goes to that one request and is never stored. A wrong key is the server's own
 * message, shown in the dialog, and nothing is marked damaged for it.
 */
import { useState, type FormEvent } from "react";
import { Button } from "@/app/_components/button";
import { Callout } from "@/app/_components/callout";
import { Dialog } from "@/app/_components/dialog";
import { trpc } from "@/app/_trpc/client";
import { errorMessage } from "@/app/_trpc/errors";
import { ArchiveKeyField, archiveKeyFields } from "./archive-key";
import type { BackupRecord } from "./backup-labels";

export function VerifyKeyDialog({
  backup,
  onClose,
  onVerified,
}: {
  backup: BackupRecord;
  onClose: () => void;
  onVerified: (updated: BackupRecord) => void;
}) {
  const [key, setKey] = useState("");
  const verify = trpc.backup.verify.useMutation({ onSuccess: onVerified });
  const running = verify.isPending;

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!key.trim() || running) return;
    verify.mutate({ id: backup.id, ...archiveKeyFields(key, backup.encryption) });
  };

  return (
    <Dialog
      open
      onOpenChange={(open) => !open && !running && onClose()}
      size="sm"
      busy={running}
      title={`Verify ${backup.filename} with its key`}
      description="Decrypts and checks every part of the archive, as a restore would, without changing anything. The key is used for this check only and never stored."
      footer={
        <>
          <Button onClick={onClose} disabled={running}>
            Cancel
          </Button>
          <Button variant="primary" type="submit" form="verify-key-form" loading={running} disabled={!key.trim()} data-testid="verify-key-submit">
            {running ? "Verifying…" : "Verify"}
          </Button>
        </>
      }
    >
      <form id="verify-key-form" onSubmit={onSubmit} className="stack-sm" style={{ gap: "var(--space-4)" }}>
        <ArchiveKeyField
          encryption={backup.encryption ?? "passphrase"}
          value={key}
          onChange={setKey}
          disabled={running}
          autoFocus
          testId="verify-key"
          hint={backup.encryption === "passphrase" ? "The passphrase this backup was made with." : "The line starting with AGE-SECRET-KEY-1 in your key file."}
        />
        {verify.error ? (
          <Callout tone="danger" title="Not verified">
            {errorMessage(verify.error)}
          </Callout>
        ) : null}
      </form>
    </Dialog>
  );
}
