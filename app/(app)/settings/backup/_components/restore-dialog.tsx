"use client";
/**
 * Restoring a backup: the dialog says exactly what will be overwritten, lets the admin
 * pick the parts the backup holds, and arms its button only once RESTORE is typed. While
 * the restore runs (the mutation resolves when it is done) the dialog cannot be closed and
 * shows the server's step and percentage; at the end it asks for a reload, since the
 * data the open page shows may no longer exist.
 *
 * An archive made elsewhere says what it cannot do: without a file list its files are added
 * and replaced (what was deleted since cannot be known), and another application's database
 * is not offered at all, with the reason, leaving files and config.
 */
import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import { Button } from "@/app/_components/button";
import { Callout } from "@/app/_components/callout";
import { Dialog } from "@/app/_components/dialog";
import { TextField } from "@/app/_components/field";
import { formatBytes, formatDate, formatDuration } from "@/lib/format";
import { DatabaseIcon, FolderIcon, RefreshIcon, RotateCcwIcon, SettingsIcon } from "@/app/_components/icons";
import { trpc, type RouterOutputs } from "@/app/_trpc/client";
import { errorMessage } from "@/app/_trpc/errors";
import { ArchiveKeyField, archiveKeyFields } from "./archive-key";
import { ARCHIVE_LIMITS, TYPE_LABELS, type BackupRecord } from "./backup-labels";
import styles from "./backup.module.css";
import { ProgressBar } from "./progress-bar";
import { POLL_MS } from "./use-running-backups";

export const CONFIRM_WORD = "RESTORE";

type Part = "database" | "files" | "config";
type RestoreOutcome = RouterOutputs["backup"]["restore"];

interface PartChoice {
  part: Part;
  label: string;
  icon: ReactNode;
  overwrites: (b: BackupRecord) => string;
  has: (b: BackupRecord) => boolean;
  /** Why a part the backup holds cannot be restored, if it cannot. */
  refused?: (b: BackupRecord) => string | null;
}

const PARTS: PartChoice[] = [
  {
    part: "database",
    label: "Database",
    icon: <DatabaseIcon size={16} />,
    overwrites: () =>
      "All users and their passwords, API tokens and settings are replaced by the backup's. The backup list and the audit log are kept.",
    has: (b) => b.includes_database,
    refused: (b) => (b.database_restorable ? null : ARCHIVE_LIMITS.foreignDatabase.title),
  },
  {
    part: "files",
    label: "Files",
    icon: <FolderIcon size={16} />,
    overwrites: (b) =>
      b.has_file_list
        ? "Every file in storage is replaced by the backup's files; files added since the backup are removed."
        : "Add and replace: the backup's files are added to storage, replacing files of the same name. It has no list of every file, so files deleted since it was made cannot be known and nothing is removed.",
    has: (b) => b.includes_files,
  },
  {
    part: "config",
    label: "Config folder",
    icon: <SettingsIcon size={16} />,
    overwrites: (b) =>
      b.has_file_list
        ? "The server's config folder is replaced by the backup's."
        : "Add and replace: the backup's config files are written into the config folder; other files there stay.",
    has: (b) => b.includes_config,
  },
];

const restorable = (choice: PartChoice, b: BackupRecord) => choice.has(b) && !choice.refused?.(b);

/** The restore's steps as the server names them, in order, with what the admin reads. */
const STEPS: Array<{ match: (step: string) => boolean; label: string; measured: boolean }> = [
  { match: (step) => step.startsWith("verifying"), label: "Checking the backup", measured: true },
  { match: (step) => step === "safety backup", label: "Taking a safety backup of the current state", measured: true },
  { match: (step) => step === "swapping", label: "Putting the restored data in place", measured: false },
];

function describeStep(step: string): { label: string; measured: boolean } {
  const index = STEPS.findIndex((s) => s.match(step));
  if (index < 0) return { label: step === "preparing" ? "Preparing" : step.charAt(0).toUpperCase() + step.slice(1), measured: false };
  const chain = step.startsWith("verifying backup") ? ` (${step.slice("verifying ".length)})` : "";
  return { label: `Step ${index + 1} of ${STEPS.length}: ${STEPS[index]!.label}${chain}`, measured: STEPS[index]!.measured };
}

function defaultParts(backup: BackupRecord): Record<Part, boolean> {
  return {
    database: backup.database_restorable,
    files: backup.includes_files,
    config: backup.backup_type === "config_only",
  };
}

/** Mount with a `key` per backup, so each opening starts from the defaults. */
export function RestoreDialog({
  backup,
  onClose,
  onRestored,
  onRunningChange,
  onUndo,
}: {
  backup: BackupRecord;
  onClose: () => void;
  onRestored: (outcome: RestoreOutcome) => void;
  /** Opens the restore of the safety backup this restore made (the done screen's "Undo"). */
  onUndo?: (safetyBackupId: number) => void;
  /** Told when the restore starts and ends, so the tab can follow it (the safety backup, "Running"). */
  onRunningChange?: (running: boolean) => void;
}) {
  const [parts, setParts] = useState<Record<Part, boolean>>(() => defaultParts(backup));
  const [typed, setTyped] = useState("");
  // The key of an encrypted backup, for this restore only (never stored).
  const [key, setKey] = useState("");
  const restore = trpc.backup.restore.useMutation({ onSuccess: onRestored });
  const progress = trpc.backup.restoreProgress.useQuery(undefined, {
    enabled: restore.isPending,
    refetchInterval: restore.isPending ? POLL_MS : false,
    staleTime: 0,
    retry: false,
  });

  const running = restore.isPending;
  const done = restore.isSuccess;
  useEffect(() => {
    onRunningChange?.(running);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [running]);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(() => () => onRunningChange?.(false), []);
  const chosen = (part: Part) => parts[part] && restorable(PARTS.find((c) => c.part === part)!, backup);
  const nothingChosen = !chosen("database") && !chosen("files") && !chosen("config");
  // What the restore will do first and need, for the parts ticked now: shown before RESTORE is typed.
  const plan = trpc.backup.restorePlan.useQuery(
    { backup_id: backup.id, restore_database: chosen("database"), restore_files: chosen("files"), restore_config: chosen("config") },
    { enabled: !running && !done && !nothingChosen, staleTime: 10_000, retry: false },
  );
  const noRoom = plan.data ? !plan.data.enough_space : false;
  const armed = typed === CONFIRM_WORD && !nothingChosen && !running && !noRoom;

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!armed) return;
    restore.mutate({
      backup_id: backup.id,
      restore_database: chosen("database"),
      restore_files: chosen("files"),
      restore_config: chosen("config"),
      confirm: true,
      ...(backup.encryption ? archiveKeyFields(key, backup.encryption) : {}),
    });
  };

  const footer = done ? (
    <>
      <Button onClick={onClose}>Close</Button>
      {onUndo && restore.data ? (
        <Button icon={<RotateCcwIcon size={14} />} onClick={() => onUndo(restore.data!.safety_backup_id)} data-testid="restore-undo">
          Undo: restore the safety backup
        </Button>
      ) : null}
      <Button variant="primary" icon={<RefreshIcon size={14} />} onClick={() => window.location.reload()} autoFocus>
        Reload now
      </Button>
    </>
  ) : (
    <>
      <Button onClick={onClose} disabled={running}>
        Cancel
      </Button>
      <Button
        type="submit"
        form="restore-backup-form"
        variant="danger"
        icon={<RotateCcwIcon size={14} />}
        loading={running}
        disabled={!armed}
      >
        {running ? "Restoring…" : "Restore backup"}
      </Button>
    </>
  );

  return (
    <Dialog
      open
      onOpenChange={(open) => !open && onClose()}
      size="md"
      busy={running}
      title={done ? "Backup restored" : running ? `Restoring ${backup.filename}` : `Restore ${backup.filename}?`}
      description={
        done || running ? undefined : (
          <>
            A {TYPE_LABELS[backup.backup_type].toLowerCase()} backup from{" "}
            {formatDate(backup.created_at)}. Restoring overwrites the current data with the backup&apos;s.
          </>
        )
      }
      footer={footer}
    >
      {done ? (
        <RestoreDone outcome={restore.data} />
      ) : running ? (
        <RestoreRunning backup={backup} parts={parts} progress={progress.data ?? null} />
      ) : (
        <form id="restore-backup-form" onSubmit={onSubmit} className="stack-sm" style={{ gap: "var(--space-4)" }}>
          <fieldset className={styles.choices} disabled={running}>
            <legend className="field-label">What to restore (and overwrite)</legend>
            {PARTS.map((choice) => {
              const { part, label, icon, overwrites, has } = choice;
              const available = restorable(choice, backup);
              const refused = has(backup) ? (choice.refused?.(backup) ?? null) : null;
              return (
                <label key={part} className={styles.choice} data-disabled={!available || undefined} data-testid={`restore-part-${part}`}>
                  <input
                    type="checkbox"
                    name={`restore_${part}`}
                    checked={available && parts[part]}
                    disabled={!available}
                    onChange={(e) => setParts({ ...parts, [part]: e.target.checked })}
                  />
                  <span className={styles.choiceText}>
                    <span className={styles.choiceLabel}>
                      {icon} {label}
                      {refused ? (
                        <span className={styles.choiceNote}>cannot be restored</span>
                      ) : has(backup) ? null : (
                        <span className={styles.choiceNote}>not in this backup</span>
                      )}
                    </span>
                    <span className={styles.choiceDescription}>{refused ?? overwrites(backup)}</span>
                  </span>
                </label>
              );
            })}
          </fieldset>
          {!backup.has_file_list ? (
            <Callout tone="warning" title="Files are added and replaced, none removed">
              This archive was made elsewhere (for example by the original BaluHost) and has no list of every file.
              Its files are checked as far as the archive allows (its compression checksums, tar structure and sizes;
              it has no per-file hashes), then added and replaced. Files deleted since it was made cannot be known.
            </Callout>
          ) : null}
          {backup.backup_type === "incremental" && backup.has_file_list ? (
            <p className="muted" style={{ fontSize: "var(--text-sm)" }}>
              This is an incremental backup: the backups it builds on are read too, to put every file back.
            </p>
          ) : null}
          {backup.damaged ? (
            <Callout tone="danger" title="This backup is damaged">
              Its last check failed{backup.verify_error ? `: ${backup.verify_error}` : "."} The restore checks every file
              again and stops before touching anything if the archive is unreadable; choose an older backup if it does.
            </Callout>
          ) : null}
          {nothingChosen ? null : <SafetyPlan plan={plan.data} loading={plan.isPending} error={plan.error} />}
          {backup.encryption ? (
            <ArchiveKeyField
              encryption={backup.encryption}
              value={key}
              onChange={setKey}
              disabled={running}
              testId="restore-key"
              hint={
                backup.encryption === "passphrase"
                  ? "Leave empty if the server keeps the passphrase. A wrong one is refused before anything is changed."
                  : "The line starting with AGE-SECRET-KEY-1 in your key file; used for this restore only, never stored."
              }
            />
          ) : null}
          <TextField
            label={
              <>
                Type <span className="mono">{CONFIRM_WORD}</span> to confirm
              </>
            }
            name="confirm"
            value={typed}
            onChange={(e) => setTyped(e.target.value)}
            autoComplete="off"
            autoCapitalize="characters"
            spellCheck={false}
            inputClassName="mono"
            disabled={running}
            hint={nothingChosen ? "Tick at least one part to restore." : undefined}
          />
          {restore.error ? (
            <Callout tone="danger" title="The backup was not restored">
              {errorMessage(restore.error)}
            </Callout>
          ) : null}
        </form>
      )}
    </Dialog>
  );
}

function RestoreRunning({
  backup,
  parts,
  progress,
}: {
  backup: BackupRecord;
  parts: Record<Part, boolean>;
  progress: RouterOutputs["backup"]["restoreProgress"];
}) {
  const step = progress ? describeStep(progress.step) : { label: "Starting the restore", measured: false };
  const percent = progress && step.measured && progress.bytes_total > 0 ? progress.percent : null;
  const what = PARTS.filter((choice) => parts[choice.part] && restorable(choice, backup)).map(({ label }) => label.toLowerCase());
  return (
    <div className="stack-sm" style={{ gap: "var(--space-4)" }}>
      <p>
        Restoring {what.length > 1 ? `${what.slice(0, -1).join(", ")} and ${what[what.length - 1]}` : what[0]} from <span className="mono">{backup.filename}</span>. The application is read-only
        until it has finished; keep this page open.
      </p>
      <div className={styles.restoreProgress} aria-live="polite" data-testid="restore-progress">
        <div className={styles.progressHead}>
          <span className={styles.choiceLabel}>{step.label}…</span>
          {percent !== null ? <span className={styles.progressPercent}>{Math.floor(percent)}%</span> : null}
        </div>
        <ProgressBar value={percent} label="Restore progress" />
        {progress ? (
          <span className={styles.progressMeta}>
            {percent !== null ? `${formatBytes(progress.bytes_done)} of ${formatBytes(progress.bytes_total)} · ` : null}
            {formatDuration(progress.elapsed_ms)} so far
          </span>
        ) : null}
      </div>
    </div>
  );
}

type RestorePlan = RouterOutputs["backup"]["restorePlan"];

const SAFETY_WHAT: Record<string, string> = {
  full: "the current database and files",
  database_only: "the current database",
  files_only: "the current files",
  config_only: "the current config folder",
};

/** What the restore does first (its safety backup, scoped to the ticked parts) and whether the space is there. */
function SafetyPlan({ plan, loading, error }: { plan: RestorePlan | undefined; loading: boolean; error: unknown }) {
  if (error) {
    return (
      <Callout tone="danger" title="The restore cannot be checked">
        {errorMessage(error)}
      </Callout>
    );
  }
  if (loading || !plan) {
    return (
      <p className="muted" style={{ fontSize: "var(--text-sm)" }}>
        A safety backup of the current state is taken first, so this restore can be undone. Checking its size and the free
        space…
      </p>
    );
  }
  const what = SAFETY_WHAT[plan.safety_backup.backup_type] ?? "the current state";
  const config = plan.safety_backup.includes_config && plan.safety_backup.backup_type !== "config_only" ? " and config folder" : "";
  const short = plan.volumes.filter((v) => !v.enough);
  return (
    <div className="stack-sm" data-testid="restore-plan">
      <Callout tone="warning" title="A safety backup is taken first">
        Before anything is overwritten, BaluHost backs up {what}
        {config} (about {formatBytes(plan.safety_backup.estimated_bytes)}, marked “Safety” in the list), so this restore
        can be undone by restoring that one.
      </Callout>
      {short.length ? (
        <Callout tone="danger" title="Not enough free space">
          {short.map((v) => (
            <span key={v.path} style={{ display: "block" }}>
              The volume of <span className="mono">{v.path}</span> needs about {formatBytes(v.needed_bytes)} for {v.holds.join(" and ")};{" "}
              {formatBytes(v.free_bytes)} is free. Free space or delete old backups first.
            </span>
          ))}
        </Callout>
      ) : (
        <p className="muted" style={{ fontSize: "var(--text-sm)" }} data-testid="restore-space">
          Free space checked:{" "}
          {plan.volumes.map((v) => `${formatBytes(v.needed_bytes)} needed, ${formatBytes(v.free_bytes)} free`).join("; ")}.
        </p>
      )}
    </div>
  );
}

function RestoreDone({ outcome }: { outcome: RestoreOutcome | undefined }) {
  const safety = trpc.backup.get.useQuery({ id: outcome?.safety_backup_id ?? 0 }, { enabled: Boolean(outcome) });
  return (
    <div className="stack-sm" style={{ gap: "var(--space-4)" }} data-testid="restore-done">
      <Callout tone="success" title="The restore has finished">
        {outcome?.message ?? "Backup restored successfully."}
      </Callout>
      <p>
        Reload the application now: this page still shows data from before the restore. If something is not as
        expected, the safety backup{safety.data ? <> <span className="mono">{safety.data.filename}</span></> : null} holds
        the state from just before it: “Undo” restores it.
      </p>
    </div>
  );
}
