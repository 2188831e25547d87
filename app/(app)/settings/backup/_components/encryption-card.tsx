"use client";
/**
 * Encryption: whether new backups are encrypted (age: `age -d` opens them, no lock-in), with
 * a passphrase the server keeps or to public keys whose private half the admin keeps offline.
 * Switching on (or changing the key) goes through the recovery sheet: the admin must download
 * or copy it, and say it is stored, before the switch is allowed, because a lost key means
 * lost backups. The server answers with settings only, never a secret; a generated private
 * key exists in this dialog and on the sheet, nowhere else.
 */
import { useState, type FormEvent } from "react";
import { Badge } from "@/app/_components/badge";
import { Button } from "@/app/_components/button";
import { Callout } from "@/app/_components/callout";
import { CopyField } from "@/app/_components/copy-field";
import { ConfirmDialog, Dialog } from "@/app/_components/dialog";
import { TextField } from "@/app/_components/field";
import { DownloadIcon, KeyIcon, LockIcon } from "@/app/_components/icons";
import { Card } from "@/app/_components/layout-parts";
import { toast } from "@/app/_components/toaster";
import { trpc, type RouterOutputs } from "@/app/_trpc/client";
import { errorMessage } from "@/app/_trpc/errors";
import styles from "./backup.module.css";

type Settings = RouterOutputs["encryption"]["get"];
type Sheet = RouterOutputs["encryption"]["recoverySheet"];

const LOST_KEY_WARNING =
  "A lost key means lost backups: nobody, not even this server's support, can open an encrypted backup without its passphrase or private key.";

export function EncryptionCard() {
  const settings = trpc.encryption.get.useQuery();
  const [setupOpen, setSetupOpen] = useState(false);
  const [offOpen, setOffOpen] = useState(false);
  const utils = trpc.useUtils();
  const off = trpc.encryption.update.useMutation({
    onSuccess: (s) => {
      utils.encryption.get.setData(undefined, s);
      void utils.audit.list.invalidate();
      setOffOpen(false);
      toast.success("Encryption switched off", { description: "New backups are plain .tar.gz files; the encrypted ones stay encrypted." });
    },
  });
  const s = settings.data;

  return (
    <Card
      headingLevel={3}
      title="Encryption"
      description="Encrypted backups are .tar.gz.age files in the standard age format: without the key they reveal nothing, and with it the age tool opens them even without BaluHost."
    >
      <div className="stack-sm" data-testid="encryption-card">
        {s ? <EncryptionSummary settings={s} /> : settings.error ? <Callout tone="danger">{errorMessage(settings.error)}</Callout> : null}
        {s && s.mode !== "off" ? (
          <Callout tone="warning" title="Keep the recovery sheet offline">
            {LOST_KEY_WARNING}
          </Callout>
        ) : null}
        <div className={styles.formActions}>
          {s && s.mode !== "off" ? (
            <Button variant="ghost" onClick={() => setOffOpen(true)}>
              Switch off
            </Button>
          ) : null}
          <Button variant="primary" icon={<LockIcon size={14} />} onClick={() => setSetupOpen(true)} disabled={!s}>
            {s && s.mode !== "off" ? "Change key" : "Set up encryption"}
          </Button>
        </div>
      </div>
      {setupOpen && s ? <EncryptionDialog settings={s} onClose={() => setSetupOpen(false)} /> : null}
      <ConfirmDialog
        open={offOpen}
        onOpenChange={setOffOpen}
        title="Switch encryption off?"
        confirmLabel="Switch off"
        tone="danger"
        busy={off.isPending}
        extra={off.error ? <Callout tone="danger">{errorMessage(off.error)}</Callout> : null}
        onConfirm={() => off.mutate({ mode: "off" })}
      >
        New backups will be readable by anyone who gets a copy. Backups already encrypted stay encrypted and still need their key.
      </ConfirmDialog>
    </Card>
  );
}

function EncryptionSummary({ settings }: { settings: Settings }) {
  if (settings.mode === "off") {
    return (
      <p data-testid="encryption-mode">
        <Badge tone="warning">Off</Badge> New backups are not encrypted: anyone with a copy can read every user&apos;s files and the database.
      </p>
    );
  }
  return (
    <div className="stack-sm" data-testid="encryption-mode">
      <p>
        <Badge tone="success">
          <LockIcon size={12} /> On
        </Badge>{" "}
        {settings.mode === "passphrase"
          ? "New backups are encrypted with a passphrase (scrypt)."
          : `New backups are encrypted to ${settings.recipients.length === 1 ? "a public key" : `${settings.recipients.length} public keys`}.`}
        {settings.source === "environment" ? " (set by the environment)" : ""}
      </p>
      {settings.mode === "recipients" ? (
        <ul className={styles.removalList}>
          {settings.recipients.map((r) => (
            <li key={r} className="mono">
              {r}
            </li>
          ))}
        </ul>
      ) : null}
      <p className="muted">
        {settings.mode === "passphrase"
          ? "The server keeps the passphrase in its secrets folder (mode 0600, outside the backups), so scheduled backups, checks and restores need nobody to type it."
          : settings.identity_kept
            ? "The server may use a private key from BACKUP_ENCRYPTION_IDENTITY_FILE to check and restore."
            : "The server keeps no private key: it can make backups but cannot read them. Give the private key when restoring."}
      </p>
    </div>
  );
}

type Mode = "passphrase" | "recipients";

function EncryptionDialog({ settings, onClose }: { settings: Settings; onClose: () => void }) {
  const utils = trpc.useUtils();
  const [mode, setMode] = useState<Mode>(settings.mode === "recipients" ? "recipients" : "passphrase");
  const [passphrase, setPassphrase] = useState("");
  const [again, setAgain] = useState("");
  const [recipients, setRecipients] = useState(settings.recipients.join(" "));
  const [identity, setIdentity] = useState<string | null>(null);
  const [sheet, setSheet] = useState<Sheet | null>(null);
  const [saved, setSaved] = useState(false);
  const [stored, setStored] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);

  const keygen = trpc.encryption.generateKeyPair.useMutation({
    onSuccess: (pair) => {
      setIdentity(pair.identity);
      setRecipients(pair.recipient);
      setSheet(null);
    },
  });
  const makeSheet = trpc.encryption.recoverySheet.useMutation({ onSuccess: setSheet });
  const update = trpc.encryption.update.useMutation({
    onSuccess: (s) => {
      utils.encryption.get.setData(undefined, s);
      void utils.audit.list.invalidate();
      toast.success("Encryption is on", { description: "The next backups are .tar.gz.age files; the older ones keep their form." });
      onClose();
    },
  });
  const recipientList = recipients.split(/[\s,]+/).filter(Boolean);

  const toSheet = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setProblem(null);
    if (mode === "passphrase") {
      if (passphrase.length < settings.min_passphrase_length) return setProblem(`The passphrase needs at least ${settings.min_passphrase_length} characters.`);
      if (passphrase !== again) return setProblem("The two passphrases differ.");
    } else if (recipientList.length === 0) {
      return setProblem("Give at least one age public key (age1…), or generate a key pair.");
    }
    setSaved(false);
    setStored(false);
    makeSheet.mutate(mode === "passphrase" ? { mode, passphrase } : { mode, recipients: recipientList, ...(identity ? { identity } : {}) });
  };

  const download = () => {
    if (!sheet) return;
    const url = URL.createObjectURL(new Blob([sheet.text], { type: "text/plain" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = sheet.filename;
    a.click();
    URL.revokeObjectURL(url);
    setSaved(true);
  };

  const switchOn = () =>
    update.mutate(
      mode === "passphrase"
        ? { mode, passphrase, recovery_sheet_saved: true }
        : { mode, recipients: recipientList, recovery_sheet_saved: true },
    );

  const busy = update.isPending || makeSheet.isPending;
  return (
    <Dialog
      open
      onOpenChange={(open) => (open ? undefined : onClose())}
      size="md"
      busy={update.isPending}
      title={sheet ? "Save the recovery sheet" : "Set up backup encryption"}
      description={sheet ? LOST_KEY_WARNING : "Choose who can open new backups. Existing backups are not changed."}
      footer={
        sheet ? (
          <>
            <Button onClick={() => setSheet(null)} disabled={busy}>
              Back
            </Button>
            <Button variant="primary" icon={<LockIcon size={14} />} disabled={!saved || !stored} loading={update.isPending} onClick={switchOn} data-testid="encryption-switch-on">
              Switch encryption on
            </Button>
          </>
        ) : (
          <>
            <Button onClick={onClose}>Cancel</Button>
            <Button type="submit" form="encryption-form" variant="primary" loading={makeSheet.isPending}>
              Next: recovery sheet
            </Button>
          </>
        )
      }
    >
      {sheet ? (
        <div className="stack-sm" style={{ gap: "var(--space-4)" }}>
          <p>Download or copy this sheet and keep it offline (printed, or on a USB stick in a drawer), apart from the backups.</p>
          <div
            onClickCapture={(e) => {
              if ((e.target as HTMLElement).closest("button")) setSaved(true);
            }}
          >
            <CopyField label="Recovery sheet" value={sheet.text} multiline />
          </div>
          <div>
            <Button icon={<DownloadIcon size={14} />} onClick={download} data-testid="encryption-download-sheet">
              Download recovery sheet
            </Button>
          </div>
          <label className={styles.checkbox}>
            <input type="checkbox" checked={stored} disabled={!saved} onChange={(e) => setStored(e.target.checked)} data-testid="encryption-stored" />
            <span className={styles.choiceText}>
              <span className={styles.choiceLabel}>I have stored the recovery sheet somewhere safe</span>
              <span className={styles.choiceDescription}>{saved ? "Without it, encrypted backups cannot be restored." : "Download or copy the sheet first."}</span>
            </span>
          </label>
          {update.error ? <Callout tone="danger" title="Encryption was not switched on">{errorMessage(update.error)}</Callout> : null}
        </div>
      ) : (
        <form id="encryption-form" onSubmit={toSheet} noValidate className="stack-sm" style={{ gap: "var(--space-4)" }}>
          <fieldset className={styles.choices}>
            <legend className="field-label">Key</legend>
            <label className={styles.choice}>
              <input type="radio" name="encryption_mode" checked={mode === "passphrase"} onChange={() => setMode("passphrase")} />
              <span className={styles.choiceText}>
                <span className={styles.choiceLabel}>Passphrase</span>
                <span className={styles.choiceDescription}>The server keeps it (0600, outside the backups) to make, check and restore backups on its own.</span>
              </span>
            </label>
            <label className={styles.choice}>
              <input type="radio" name="encryption_mode" checked={mode === "recipients"} onChange={() => setMode("recipients")} />
              <span className={styles.choiceText}>
                <span className={styles.choiceLabel}>Public keys (age)</span>
                <span className={styles.choiceDescription}>The server can make backups but not read them; you keep the private key offline.</span>
              </span>
            </label>
          </fieldset>
          {mode === "passphrase" ? (
            <>
              <TextField label="Passphrase" type="password" autoComplete="new-password" value={passphrase} onChange={(e) => setPassphrase(e.target.value)} hint={`At least ${settings.min_passphrase_length} characters; a few unrelated words are best.`} />
              <TextField label="Passphrase again" type="password" autoComplete="new-password" value={again} onChange={(e) => setAgain(e.target.value)} />
            </>
          ) : (
            <>
              <TextField
                label="Public keys"
                className="mono"
                value={recipients}
                onChange={(e) => {
                  setRecipients(e.target.value);
                  setIdentity(null);
                }}
                hint="One or more age1… keys (age-keygen -y key.txt prints one), separated by spaces."
              />
              <div>
                <Button icon={<KeyIcon size={14} />} onClick={() => keygen.mutate()} loading={keygen.isPending}>
                  Generate a key pair
                </Button>
              </div>
              {identity ? (
                <Callout tone="info" title="A new key pair was made">
                  Its private key is on the recovery sheet (next step) and nowhere else: the server does not keep it.
                </Callout>
              ) : null}
            </>
          )}
          {problem || makeSheet.error || keygen.error ? (
            <Callout tone="danger">{problem ?? errorMessage(makeSheet.error ?? keygen.error)}</Callout>
          ) : null}
        </form>
      )}
    </Dialog>
  );
}
