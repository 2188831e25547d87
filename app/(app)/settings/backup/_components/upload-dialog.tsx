"use client";
/**
 * "Upload backup": a .tar.gz from this computer (dropped or picked) is sent as the raw
 * request body to POST /api/backups/upload. XMLHttpRequest, not fetch, because only it
 * reports upload progress. After the last byte the server still verifies the archive
 * before it answers, which the dialog says; a refusal shows the server's own message.
 */
import { useEffect, useRef, useState, type DragEvent } from "react";
import { Button } from "@/app/_components/button";
import { Callout } from "@/app/_components/callout";
import { TextField } from "@/app/_components/field";
import { cx } from "@/app/_components/class-names";
import { Dialog } from "@/app/_components/dialog";
import { formatBytes } from "@/lib/format";
import { UploadIcon } from "@/app/_components/icons";
import { TYPE_LABELS, type BackupRecord } from "./backup-labels";
import { isIdentityLine } from "./archive-key";
import styles from "./backup.module.css";
import { ProgressBar } from "./progress-bar";

const ACCEPT = ".tar.gz,.tgz,.age,application/gzip";

type UploadState =
  | { phase: "idle" }
  | { phase: "uploading"; file: File; loaded: number; total: number }
  | { phase: "verifying"; file: File }
  | { phase: "done"; file: File; backup: BackupRecord }
  | { phase: "error"; file: File | null; message: string };

function isArchiveName(name: string): boolean {
  return /\.(tar\.gz|tgz|tar\.gz\.age|tgz\.age)$/i.test(name);
}

/** The message of an `{ error: { code, message } }` body, or a fallback for the status. */
function serverMessage(xhr: XMLHttpRequest): string {
  try {
    const body = JSON.parse(xhr.responseText) as { error?: { message?: unknown } };
    if (typeof body.error?.message === "string" && body.error.message) return body.error.message;
  } catch {
    // not JSON (a proxy's error page, an empty body)
  }
  if (xhr.status === 413) return "The archive is too large for the server to accept.";
  return `The upload failed (HTTP ${xhr.status}). Try again.`;
}

export function UploadDialog({
  open,
  onOpenChange,
  onUploaded,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  onUploaded: (backup: BackupRecord) => void;
}) {
  const [state, setState] = useState<UploadState>({ phase: "idle" });
  const [dragging, setDragging] = useState(false);
  // The key of an encrypted (.age) archive: sent in a header for this upload only, never stored.
  const [archiveKey, setArchiveKey] = useState("");
  const inputRef = useRef<HTMLInputElement>(null);
  const xhrRef = useRef<XMLHttpRequest | null>(null);
  const busy = state.phase === "uploading" || state.phase === "verifying";

  // Leaving the page (or unmounting) must not leave an upload running unseen.
  useEffect(() => () => xhrRef.current?.abort(), []);

  const reset = () => {
    setState({ phase: "idle" });
    if (inputRef.current) inputRef.current.value = "";
  };

  const close = () => {
    if (busy) return;
    onOpenChange(false);
    reset();
  };

  const start = (file: File) => {
    if (!isArchiveName(file.name)) {
      setState({ phase: "error", file, message: `“${file.name}” is not a backup archive: choose a .tar.gz, .tgz or .tar.gz.age file.` });
      return;
    }
    const xhr = new XMLHttpRequest();
    xhrRef.current = xhr;
    setState({ phase: "uploading", file, loaded: 0, total: file.size });
    xhr.upload.onprogress = (event) => {
      const total = event.lengthComputable ? event.total : file.size;
      // Progress events can trail the answer of a server that refused early: never step back.
      setState((s) => (s.phase === "uploading" && s.file === file ? { phase: "uploading", file, loaded: event.loaded, total } : s));
    };
    xhr.upload.onload = () => setState((s) => (s.phase === "uploading" && s.file === file ? { phase: "verifying", file } : s));
    xhr.onload = () => {
      xhrRef.current = null;
      if (xhr.status === 201) {
        try {
          const backup = JSON.parse(xhr.responseText) as BackupRecord;
          setState({ phase: "done", file, backup });
          onUploaded(backup);
        } catch {
          setState({ phase: "error", file, message: "The server answered with something unexpected. Reload the page to see whether the backup arrived." });
        }
        return;
      }
      if (xhr.status === 401) {
        window.location.assign(`/login?callbackUrl=${encodeURIComponent(window.location.pathname)}`);
        return;
      }
      setState({ phase: "error", file, message: serverMessage(xhr) });
    };
    xhr.onerror = () => {
      xhrRef.current = null;
      setState({ phase: "error", file, message: "Could not reach the server. Check the connection and try again." });
    };
    xhr.onabort = () => {
      xhrRef.current = null;
      setState({ phase: "error", file, message: "The upload was cancelled. Nothing was added." });
    };
    xhr.open("POST", "/api/backups/upload");
    xhr.setRequestHeader("Content-Type", "application/gzip");
    xhr.setRequestHeader("X-Filename", encodeURIComponent(file.name));
    const key = archiveKey.trim();
    if (key) {
      try {
        xhr.setRequestHeader(isIdentityLine(key) ? "X-Backup-Identity" : "X-Backup-Passphrase", key);
      } catch {
        // Header values are Latin-1 only.
        xhrRef.current = null;
        setState({ phase: "error", file, message: "This key has characters a browser cannot send in a header. Import the file on the server instead: backup import FILE --passphrase-file KEYFILE." });
        return;
      }
    }
    xhr.send(file);
  };

  const onDrop = (event: DragEvent<HTMLDivElement>) => {
    event.preventDefault();
    setDragging(false);
    if (busy) return;
    const file = event.dataTransfer.files[0];
    if (file) start(file);
  };

  const footer =
    state.phase === "done" ? (
      <Button variant="primary" onClick={close}>
        Done
      </Button>
    ) : busy ? (
      <Button onClick={() => xhrRef.current?.abort()} disabled={state.phase === "verifying"}>
        Cancel upload
      </Button>
    ) : (
      <Button onClick={close}>Close</Button>
    );

  return (
    <Dialog
      open={open}
      onOpenChange={(next) => (next ? onOpenChange(true) : close())}
      size="md"
      busy={busy}
      title="Upload backup"
      description="Add a backup archive from this computer, such as one downloaded earlier from this or another BaluHost. It is checked before it is added to the list."
      footer={footer}
    >
      <div className="stack-sm" style={{ gap: "var(--space-4)" }}>
        {state.phase === "idle" || state.phase === "error" ? (
          <div
            className={cx(styles.dropZone, dragging && styles.dropZoneActive)}
            onDragOver={(e) => {
              e.preventDefault();
              e.dataTransfer.dropEffect = "copy";
              setDragging(true);
            }}
            onDragLeave={() => setDragging(false)}
            onDrop={onDrop}
            data-testid="upload-drop-zone"
          >
            <UploadIcon size={24} className={styles.dropZoneIcon} />
            <p className={styles.choiceLabel}>Drop a backup archive here</p>
            <p className={styles.choiceDescription}>A .tar.gz or .tgz file made by BaluHost, or an encrypted .tar.gz.age</p>
            <input
              ref={inputRef}
              id="backup-upload-input"
              type="file"
              accept={ACCEPT}
              aria-label="Backup archive to upload"
              className="visually-hidden"
              onChange={(e) => {
                const file = e.target.files?.[0];
                if (file) start(file);
              }}
            />
            <Button size="sm" onClick={() => inputRef.current?.click()}>
              Choose file…
            </Button>
          </div>
        ) : null}

        {state.phase === "idle" || state.phase === "error" ? (
          <TextField
            label="Key of an encrypted archive (optional)"
            type="password"
            autoComplete="off"
            spellCheck={false}
            value={archiveKey}
            onChange={(e) => setArchiveKey(e.target.value)}
            hint="For a .age file: its passphrase, or its private key (AGE-SECRET-KEY-1…). Not needed when this server keeps the key. Used for this upload only."
            data-testid="upload-key"
          />
        ) : null}

        {state.phase === "uploading" || state.phase === "verifying" ? (
          <div className={styles.restoreProgress} aria-live="polite" data-testid="upload-progress">
            <div className={styles.progressHead}>
              <span className={cx(styles.choiceLabel, "mono")}>{state.file.name}</span>
              {state.phase === "uploading" ? (
                <span className={styles.progressPercent}>
                  {state.total > 0 ? Math.floor((state.loaded / state.total) * 100) : 0}%
                </span>
              ) : null}
            </div>
            <ProgressBar
              value={state.phase === "uploading" ? (state.total > 0 ? (state.loaded / state.total) * 100 : 0) : null}
              label="Upload progress"
            />
            <span className={styles.progressMeta}>
              {state.phase === "uploading"
                ? `${formatBytes(state.loaded)} of ${formatBytes(state.total)} uploaded`
                : "Uploaded. Checking the archive…"}
            </span>
          </div>
        ) : null}

        {state.phase === "done" ? (
          <Callout tone="success" title="Backup uploaded">
            <span data-testid="upload-done">
              {state.file.name} ({formatBytes(state.backup.size_bytes)}) was checked and added as{" "}
              <span className="mono">{state.backup.filename}</span>, a {TYPE_LABELS[state.backup.backup_type].toLowerCase()}{" "}
              backup. It can be restored from the list.
            </span>
          </Callout>
        ) : null}

        {state.phase === "error" ? (
          <Callout tone="danger" title="The backup was not added">
            {state.message}
          </Callout>
        ) : null}
      </div>
    </Dialog>
  );
}
