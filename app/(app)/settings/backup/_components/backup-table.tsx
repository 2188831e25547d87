"use client";
/**
 * The backup list, newest first, as one plain table. Everything a row shows comes from
 * the one `backup.list` query (no per-row requests); only running rows get live progress,
 * polled by useRunningBackups. Rows are shown PAGE at a time ("Show more"), so hundreds
 * of backups cost nothing until asked for.
 */
import { useState } from "react";
import { Badge } from "@/app/_components/badge";
import { BreakableText } from "@/app/_components/breakable-text";
import { Button, buttonClassName } from "@/app/_components/button";
import { DateTime, RelativeTime } from "@/app/_components/date-time";
import { formatBytes, formatCount, formatDuration } from "@/lib/format";
import { DownloadIcon, FolderIcon, LockIcon, PinIcon, RotateCcwIcon, ShieldCheckIcon, StopIcon, TrashIcon } from "@/app/_components/icons";
import { Spinner } from "@/app/_components/spinner";
import {
  ARCHIVE_LIMITS,
  contentsLabel,
  ORIGIN_LABELS,
  phaseLabel,
  statusBadge,
  throughputLabel,
  etaMs,
  TYPE_LABELS,
  type BackupProgress,
  type BackupRecord,
} from "./backup-labels";
import styles from "./backup.module.css";
import { ProgressBar } from "./progress-bar";
import type { RunningBackups } from "./use-running-backups";
import type { RouterOutputs } from "@/app/_trpc/client";

export type CopyState = RouterOutputs["offsite"]["copies"][number];

export const PAGE = 25;

export interface RowActions {
  onVerify: (backup: BackupRecord) => void;
  /** Opens the key dialog for a full check of an encrypted backup checked without its key. */
  onVerifyWithKey: (backup: BackupRecord) => void;
  onRestore: (backup: BackupRecord) => void;
  /** Opens the backup's file tree (browse, download, restore selected paths). */
  onBrowse: (backup: BackupRecord) => void;
  onDelete: (backup: BackupRecord) => void;
  onCancel: (backup: BackupRecord) => void;
  onToggleProtected: (backup: BackupRecord) => void;
  /** Ids being verified or cancelled right now (their buttons show a spinner). */
  verifying: ReadonlySet<number>;
  cancelling: ReadonlySet<number>;
  /** Each backup's offsite copy states (one per target), and Retry for a failed one. */
  copies: ReadonlyMap<number, CopyState[]>;
  onRetryCopy: (copy: CopyState) => void;
  /** Copy a backup that has no copy yet (made before a target was added, uploaded, imported) to every enabled target. */
  onCopyOffsite: ((backup: BackupRecord) => void) | null;
  retrying: ReadonlySet<number>;
}

export function BackupTable({ backups, running, actions }: { backups: BackupRecord[]; running: RunningBackups; actions: RowActions }) {
  const [shown, setShown] = useState(PAGE);
  const visible = backups.slice(0, shown);
  const rest = backups.length - visible.length;
  const parents = new Map(backups.map((b) => [b.id, b]));
  return (
    <>
      <div className="table-wrap">
        <table className={`table table-stacked ${styles.backupTable}`} data-testid="backup-table">
          <caption className="visually-hidden">Backups, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Backup</th>
              <th scope="col">Type</th>
              <th scope="col">Status</th>
              <th scope="col">Size</th>
              <th scope="col">Created</th>
              <th scope="col">Verification</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {visible.map((backup) => (
              <BackupRow key={backup.id} backup={backup} parents={parents} live={running.byId.get(backup.id)} actions={actions} />
            ))}
          </tbody>
        </table>
      </div>
      <div className="table-footer">
        <span>
          Showing {formatCount(visible.length)} of {formatCount(backups.length)}
        </span>
        {rest > 0 ? (
          <Button onClick={() => setShown(shown + PAGE)}>Show {formatCount(Math.min(PAGE, rest))} more</Button>
        ) : null}
      </div>
    </>
  );
}

function BackupRow({
  backup,
  parents,
  live,
  actions,
}: {
  backup: BackupRecord;
  parents: ReadonlyMap<number, BackupRecord>;
  live: ReturnType<RunningBackups["byId"]["get"]>;
  actions: RowActions;
}) {
  // A finished poll is newer than the list until the list is fetched again.
  const status = live?.status ?? backup.status;
  const progress = status === "in_progress" ? (live?.progress ?? backup.progress) : null;
  const error = live?.error_message ?? backup.error_message;
  const origin = ORIGIN_LABELS[backup.origin];
  const statusLabel = statusBadge({ status, error_code: live?.error_code ?? backup.error_code, damaged: backup.damaged });
  const parent = backup.parent_id !== null ? parents.get(backup.parent_id) : undefined;
  const throughput = throughputLabel(backup);
  const verifying = actions.verifying.has(backup.id);
  const name = backup.filename;

  return (
    <tr
      data-testid={`backup-row-${backup.id}`}
      data-status={status}
      data-damaged={backup.damaged || undefined}
      className={status === "failed" ? "row-muted" : undefined}
    >
      <td data-label="Backup" data-wide className={styles.nameCell}>
        <span className={`mono ${styles.filename}`}>
          <BreakableText text={name} />
        </span>
        <span className="cell-sub">
          {contentsLabel(backup)}
          {backup.file_count !== null ? ` · ${formatCount(backup.file_count)} files` : ""}
        </span>
        {backup.encryption ? <EncryptedLabel backup={backup} /> : null}
        {status === "in_progress" ? <LiveProgress progress={progress} /> : null}
        {status === "failed" && error ? (
          <span className={`error-text ${styles.rowError}`} data-testid="backup-error">
            {error}
          </span>
        ) : null}
      </td>
      <td data-label="Type">
        <span className={styles.typeCell}>
          {TYPE_LABELS[backup.backup_type]}
          {backup.origin !== "manual" ? (
            <Badge tone={origin.tone} title={backup.plan_name ? `Made by the backup plan “${backup.plan_name}”` : origin.title}>
              {origin.label}
            </Badge>
          ) : null}
        </span>
        {backup.plan_name ? (
          <span className="cell-sub" data-testid="backup-plan-name">
            plan “{backup.plan_name}”
          </span>
        ) : null}
        {backup.parent_id !== null ? (
          <span className="cell-sub">
            builds on <span className="mono">{parent?.filename ?? "an earlier backup"}</span>
          </span>
        ) : null}
        {backup.status === "completed" && !backup.has_file_list ? (
          <Badge tone="warning" title={ARCHIVE_LIMITS.noFileList.title}>
            {ARCHIVE_LIMITS.noFileList.label}
          </Badge>
        ) : null}
        {backup.includes_database && !backup.database_restorable ? (
          <Badge tone="warning" title={ARCHIVE_LIMITS.foreignDatabase.title}>
            {ARCHIVE_LIMITS.foreignDatabase.label}
          </Badge>
        ) : null}
      </td>
      <td data-label="Status">
        <Badge tone={statusLabel.tone} dot>
          {statusLabel.label}
        </Badge>
        {backup.protected ? (
          <Badge tone="accent" title="Protected: retention never removes this backup">
            Protected
          </Badge>
        ) : null}
      </td>
      <td data-label="Size" className="nowrap">
        {status === "completed" ? formatBytes(backup.size_bytes) : <span className="muted">–</span>}
        {throughput ? <span className="cell-sub">{throughput}</span> : null}
      </td>
      <td data-label="Created" className={styles.createdCell}>
        <DateTime value={backup.created_at} relative stacked />
        {backup.uploaded_at ? (
          <span className="cell-sub">
            {backup.origin === "imported" ? "imported" : "uploaded"} <RelativeTime value={backup.uploaded_at} />
          </span>
        ) : null}
        {backup.creator_name ? <span className="cell-sub">by {backup.creator_name}</span> : null}
      </td>
      <td data-label="Verification" data-testid="backup-verification">
        <Verification backup={backup} verifying={verifying} />
        {!verifying && backup.verify_status === "ok" && backup.verify_scope === "structure" ? (
          <Button
            size="sm"
            variant="ghost"
            onClick={() => actions.onVerifyWithKey(backup)}
            aria-label={`Verify with key: ${name}`}
            title="Decrypt and check the contents with the passphrase or private key"
            data-testid="verify-with-key"
          >
            Verify with key
          </Button>
        ) : null}
        <OffsiteStates copies={actions.copies.get(backup.id)} onRetry={actions.onRetryCopy} retrying={actions.retrying} />
        {status === "completed" && !actions.copies.has(backup.id) && actions.onCopyOffsite ? (
          <Button
            size="sm"
            variant="ghost"
            onClick={() => actions.onCopyOffsite?.(backup)}
            loading={actions.retrying.has(backup.id)}
            aria-label={`Copy offsite: ${name}`}
            title="Copy this backup to every enabled offsite target"
          >
            Copy offsite
          </Button>
        ) : null}
      </td>
      <td data-label="" data-wide className="cell-actions">
        <RowButtons backup={backup} status={status} actions={actions} />
      </td>
    </tr>
  );
}

function LiveProgress({ progress }: { progress: BackupProgress | null }) {
  if (!progress) {
    return <span className={styles.progressMeta}>Waiting for progress… (it may be running from the command line)</span>;
  }
  const known = progress.bytes_total > 0;
  const eta = etaMs(progress);
  return (
    <div className={styles.liveProgress} data-testid="backup-progress">
      <div className={styles.progressHead}>
        <span className={styles.progressPhase}>{phaseLabel(progress.phase)}</span>
        <span className={styles.progressPercent}>{Math.floor(progress.percent)}%</span>
      </div>
      <ProgressBar value={known ? progress.percent : null} label="Backup progress" />
      <span className={styles.progressMeta}>
        {formatCount(progress.files_done)} of {formatCount(progress.files_total)} files ·{" "}
        {known ? `${formatBytes(progress.bytes_done)} of ${formatBytes(progress.bytes_total)}` : formatBytes(progress.bytes_done)} ·{" "}
        {formatDuration(progress.elapsed_ms)}
        {eta !== null ? ` · about ${formatDuration(eta)} left` : ""}
      </span>
    </div>
  );
}

/** The lock and who can open it: "Encrypted · passphrase" or "Encrypted · age1abc…, age1def…". */
function EncryptedLabel({ backup }: { backup: BackupRecord }) {
  const keys = backup.encryption_recipients;
  const text =
    backup.encryption === "passphrase"
      ? "passphrase"
      : keys?.length
        ? keys.map((k) => `${k.slice(0, 10)}…${k.slice(-4)}`).join(", ")
        : "public key (not recorded)";
  const title =
    backup.encryption === "passphrase"
      ? "Encrypted with age and a passphrase (scrypt): age -d asks for it"
      : `Encrypted with age to ${keys?.length ? keys.join(", ") : "public keys"}: age -d -i key.txt opens it`;
  return (
    <span className={`cell-sub ${styles.encrypted}`} data-testid="backup-encrypted" title={title}>
      <LockIcon size={12} title="Encrypted" /> Encrypted · <span className="mono">{text}</span>
    </span>
  );
}

function Verification({ backup, verifying }: { backup: BackupRecord; verifying: boolean }) {
  if (verifying) {
    return (
      <span className={styles.verifying}>
        <Spinner size={12} /> Verifying…
      </span>
    );
  }
  if (backup.verify_status === "ok" && backup.verified_at && backup.verify_scope === "structure") {
    return (
      <>
        <Badge tone="neutral" title="Encrypted, and no key was at hand: the age header, the size and the SHA-256 recorded when it was made were checked, not the contents">
          Checked without key
        </Badge>
        <span className="cell-sub">
          structure and checksum, <RelativeTime value={backup.verified_at} />
        </span>
      </>
    );
  }
  if (backup.verify_status === "ok" && backup.verified_at) {
    return (
      <>
        <Badge tone="success">Verified</Badge>
        <span className="cell-sub">
          checked <RelativeTime value={backup.verified_at} />
        </span>
      </>
    );
  }
  if (backup.verify_status === "failed") {
    return (
      <>
        <Badge tone="danger">Check failed</Badge>
        {backup.verified_at ? (
          <span className="cell-sub">
            checked <RelativeTime value={backup.verified_at} />
          </span>
        ) : null}
        {backup.verify_error ? <span className={`error-text ${styles.rowError}`}>{backup.verify_error}</span> : null}
      </>
    );
  }
  return <span className="muted">Not verified</span>;
}

/** One line per target: queued, uploading with progress, copied and verified, or failed with the reason and Retry. */
function OffsiteStates({ copies, onRetry, retrying }: { copies: CopyState[] | undefined; onRetry: (c: CopyState) => void; retrying: ReadonlySet<number> }) {
  if (!copies?.length) return null;
  return (
    <ul className={styles.offsiteStates} aria-label="Offsite copies" data-testid="offsite-states">
      {copies.map((c) => (
        <li key={c.target_id} data-status={c.status} data-testid={`offsite-state-${c.target_id}`}>
          {c.status === "verified" ? (
            <Badge tone="success" title={c.verified_at ? `Read back and checked ${new Date(c.verified_at).toLocaleString()}` : undefined}>
              Offsite: {c.target_name} ✓
            </Badge>
          ) : c.status === "uploading" ? (
            <>
              <Badge tone="accent">Uploading to {c.target_name}</Badge>
              <span className="cell-sub">
                {c.bytes_total > 0 ? `${Math.floor((100 * c.bytes_done) / c.bytes_total)}% · ` : ""}
                {formatBytes(c.bytes_done)} of {formatBytes(c.bytes_total)}
              </span>
            </>
          ) : c.status === "removed" ? (
            <Badge tone="neutral" title="Copied and verified, then deleted from the bucket by the target's retention or an admin">
              Removed from {c.target_name}
            </Badge>
          ) : c.status === "queued" ? (
            <>
              <Badge tone="neutral">Queued for {c.target_name}</Badge>
              {c.error ? <span className="cell-sub">retrying after: {c.error}</span> : null}
            </>
          ) : (
            <>
              <Badge tone="danger">Offsite copy to {c.target_name} failed</Badge>
              {c.error ? <span className={`error-text ${styles.rowError}`}>{c.error}</span> : null}
              <Button size="sm" onClick={() => onRetry(c)} loading={retrying.has(c.backup_id)} aria-label={`Retry the copy to ${c.target_name}`}>
                Retry
              </Button>
            </>
          )}
        </li>
      ))}
    </ul>
  );
}

function RowButtons({ backup, status, actions }: { backup: BackupRecord; status: BackupRecord["status"]; actions: RowActions }) {
  const name = backup.filename;
  if (status === "in_progress") {
    // A safety backup belongs to the restore that started it: it ends with that restore.
    if (backup.origin === "safety") return null;
    return (
      <Button
        size="sm"
        icon={<StopIcon size={14} />}
        onClick={() => actions.onCancel(backup)}
        loading={actions.cancelling.has(backup.id)}
        aria-label={`Cancel backup ${name}`}
      >
        Cancel
      </Button>
    );
  }
  const completed = status === "completed";
  return (
    // Icons with a tooltip on a desk; on a phone (no hover) each also shows its word.
    <div className={`${styles.rowActions} row-actions`}>
      {completed ? (
        <>
          <Button
            size="sm"
            variant="ghost"
            iconOnly
            icon={<ShieldCheckIcon size={16} />}
            onClick={() => actions.onVerify(backup)}
            disabled={actions.verifying.has(backup.id)}
            aria-label={`Verify ${name}`}
            title="Verify: read the whole archive and check it"
          >
            <span className="row-action-label">Verify</span>
          </Button>
          <Button
            size="sm"
            variant="ghost"
            iconOnly
            icon={<FolderIcon size={16} />}
            onClick={() => actions.onBrowse(backup)}
            aria-label={`Browse ${name}`}
            title="Browse: see its files, download or restore only some of them"
          >
            <span className="row-action-label">Browse</span>
          </Button>
          <a
            href={`/api/backups/${backup.id}/download`}
            download={name}
            className={buttonClassName({ variant: "ghost", size: "sm", iconOnly: true })}
            aria-label={`Download ${name}`}
            title="Download"
          >
            <DownloadIcon size={16} />
            <span className="row-action-label">Download</span>
          </a>
          <Button
            size="sm"
            variant="ghost"
            iconOnly
            icon={<RotateCcwIcon size={16} />}
            onClick={() => actions.onRestore(backup)}
            aria-label={`Restore ${name}`}
            title="Restore"
          >
            <span className="row-action-label">Restore</span>
          </Button>
          <Button
            size="sm"
            variant="ghost"
            iconOnly
            icon={<PinIcon size={16} />}
            onClick={() => actions.onToggleProtected(backup)}
            aria-pressed={backup.protected}
            aria-label={backup.protected ? `Remove protection from ${name}` : `Protect ${name} from retention`}
            title={backup.protected ? "Protected: retention never removes it. Click to remove the protection." : "Protect: retention never removes it"}
            className={backup.protected ? styles.pinned : undefined}
          >
            <span className="row-action-label">{backup.protected ? "Unprotect" : "Protect"}</span>
          </Button>
        </>
      ) : null}
      <Button
        size="sm"
        variant="ghost"
        iconOnly
        icon={<TrashIcon size={16} />}
        onClick={() => actions.onDelete(backup)}
        aria-label={`Delete ${name}`}
        title="Delete"
        className={styles.deleteButton}
      >
        <span className="row-action-label">Delete</span>
      </Button>
    </div>
  );
}
