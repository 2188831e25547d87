"use client";
/**
 * "Create backup": what kind of backup (one line on each), whether to add the config
 * folder, Create. The backup starts in the background (no `wait`): the dialog closes at
 * once and the new row, already in the list, shows its progress.
 */
import { useId, useState, type FormEvent } from "react";
import { Button } from "@/app/_components/button";
import { Callout } from "@/app/_components/callout";
import { Dialog } from "@/app/_components/dialog";
import { ArchiveIcon } from "@/app/_components/icons";
import { trpc } from "@/app/_trpc/client";
import { errorMessage } from "@/app/_trpc/errors";
import { TYPE_CHOICES, type BackupRecord, type BackupType } from "./backup-labels";
import styles from "./backup.module.css";

/** The backup an incremental would build on (as the server chooses it), or null. */
export function incrementalBase(backups: BackupRecord[]): BackupRecord | null {
  return (
    backups.find(
      (b) => b.status === "completed" && b.includes_files && ["full", "files_only", "incremental"].includes(b.backup_type),
    ) ?? null
  );
}

export function CreateBackupDialog({
  open,
  onOpenChange,
  backups,
  onCreated,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  /** The current list, newest first: to say what an incremental would build on. */
  backups: BackupRecord[];
  onCreated: (backup: BackupRecord) => void;
}) {
  const [type, setType] = useState<BackupType>("full");
  const [includeConfig, setIncludeConfig] = useState(false);
  const create = trpc.backup.create.useMutation({
    onSuccess: (backup) => {
      onCreated(backup);
      onOpenChange(false);
    },
  });
  const formId = useId();
  const base = incrementalBase(backups);

  const close = (next: boolean) => {
    if (!next) create.reset();
    onOpenChange(next);
  };

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    // A config-only backup is the config folder: the checkbox does not apply to it.
    create.mutate(type === "config_only" ? { backup_type: type } : { backup_type: type, includes_config: includeConfig });
  };

  return (
    <Dialog
      open={open}
      onOpenChange={close}
      size="md"
      title="Create backup"
      description="The backup runs in the background; you can keep working and follow its progress in the list."
      busy={create.isPending}
      footer={
        <>
          <Button onClick={() => close(false)} disabled={create.isPending}>
            Cancel
          </Button>
          <Button type="submit" form={formId} variant="primary" icon={<ArchiveIcon size={14} />} loading={create.isPending}>
            Create backup
          </Button>
        </>
      }
    >
      <form id={formId} onSubmit={onSubmit} className="stack-sm" style={{ gap: "var(--space-4)" }}>
        <fieldset className={styles.choices}>
          <legend className="field-label">What to back up</legend>
          {TYPE_CHOICES.map((choice) => (
            <label key={choice.value} className={styles.choice}>
              <input
                type="radio"
                name="backup_type"
                value={choice.value}
                checked={type === choice.value}
                onChange={() => setType(choice.value)}
              />
              <span className={styles.choiceText}>
                <span className={styles.choiceLabel}>{choice.label}</span>
                <span className={styles.choiceDescription}>{choice.description}</span>
              </span>
            </label>
          ))}
        </fieldset>

        {type === "incremental" ? (
          base ? (
            <Callout tone="info">
              Builds on <span className="mono">{base.filename}</span>: only files changed since then are stored again.
            </Callout>
          ) : (
            <Callout tone="info" title="This will be a full backup">
              There is no backup to build on yet, so an incremental backup starts as a full backup. The next incremental
              builds on it.
            </Callout>
          )
        ) : null}

        {type === "config_only" ? null : (
          <label className={styles.checkbox}>
            <input type="checkbox" checked={includeConfig} onChange={(e) => setIncludeConfig(e.target.checked)} />
            <span className={styles.choiceText}>
              <span className={styles.choiceLabel}>Include config folder</span>
              <span className={styles.choiceDescription}>The server&apos;s configuration files, next to the data.</span>
            </span>
          </label>
        )}

        {create.error ? (
          <Callout tone="danger" title="The backup was not started">
            {errorMessage(create.error)}
          </Callout>
        ) : null}
      </form>
    </Dialog>
  );
}
