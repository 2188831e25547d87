"use client";
/**
 * The Backup tab of Settings: create, upload, follow, verify, download, restore and delete
 * backups, set retention, and read what was done. The page prefetches the list and the
 * overview on the server, so this renders with data at once; after that, the queries here
 * are the single source of the tab's state and every action refreshes what it changed.
 */
import { useEffect, useRef, useState } from "react";
import { Button } from "@/app/_components/button";
import { Callout } from "@/app/_components/callout";
import { RelativeTime } from "@/app/_components/date-time";
import { ConfirmDialog } from "@/app/_components/dialog";
import { EmptyState } from "@/app/_components/empty-state";
import { formatBytes, formatCount } from "@/lib/format";
import { ArchiveIcon, UploadIcon } from "@/app/_components/icons";
import { Card } from "@/app/_components/layout-parts";
import { QueryError } from "@/app/_components/query-error";
import { Spinner } from "@/app/_components/spinner";
import { usePendingIds } from "@/app/_components/use-pending-ids";
import { toast } from "@/app/_components/toaster";
import { trpc, type RouterOutputs } from "@/app/_trpc/client";
import { errorMessage } from "@/app/_trpc/errors";
import { errorHttpStatus } from "@/lib/query-client";
import { BackupAudit } from "./backup-audit";
import { isCancelled, type BackupRecord, type Overview } from "./backup-labels";
import { BackupTable } from "./backup-table";
import styles from "./backup.module.css";
import { CreateBackupDialog } from "./create-backup-dialog";
import { DrillStatus } from "./drill-status";
import { EncryptionCard } from "./encryption-card";
import { NotificationsCard } from "./notifications-card";
import { OffsiteCard } from "./offsite-card";
import { useOffsiteCopies } from "./use-offsite-copies";
import { ProtectionStatus } from "./protection-status";
import { BrowseDialog } from "./browse-dialog";
import { RestoreDialog } from "./restore-dialog";
import { VerifyKeyDialog } from "./verify-key-dialog";
import { RetentionCard } from "./retention-card";
import { SchedulesCard } from "./schedules-card";
import { UploadDialog } from "./upload-dialog";
import { useRunningBackups } from "./use-running-backups";

type BackupList = RouterOutputs["backup"]["list"];

export const OVERVIEW_POLL_MS = 2000;
const OVERVIEW_BUSY_POLL_MS = 1000;

/** What the Create button says when it cannot be used: the operation holding the lock. */
function busyReason(busy: Overview["running"]): string | null {
  if (!busy) return null;
  const what = busy.operation === "restore" ? "A restore" : busy.operation === "maintenance" ? "Maintenance" : "A backup";
  return `${what} is running (${busy.subject}). You can start a new backup when it has finished.`;
}

function withRow(list: BackupList | undefined, row: BackupRecord): BackupList | undefined {
  if (!list) return list;
  const exists = list.backups.some((b) => b.id === row.id);
  return {
    ...list,
    backups: exists ? list.backups.map((b) => (b.id === row.id ? row : b)) : [row, ...list.backups],
  };
}

function withoutRow(list: BackupList | undefined, id: number): BackupList | undefined {
  if (!list) return list;
  const gone = list.backups.find((b) => b.id === id);
  const freed = gone?.status === "completed" ? gone.size_bytes : 0;
  return {
    ...list,
    backups: list.backups.filter((b) => b.id !== id),
    total_size_bytes: list.total_size_bytes - freed,
    total_size_mb: Math.round(((list.total_size_bytes - freed) / 1048576) * 100) / 100,
  };
}

export function BackupTab() {
  const utils = trpc.useUtils();
  // While a restore runs, the list is re-read so its safety backup appears and progresses.
  const [restoring, setRestoring] = useState(false);
  const list = trpc.backup.list.useQuery(undefined, { refetchInterval: restoring ? 1500 : false });
  const backups = list.data?.backups;
  const running = useRunningBackups(backups);
  // The overview is small (free space, the lock, a catalog version): polled every two
  // seconds, so work started elsewhere (the CLI, the API, another admin) shows up at once.
  const overview = trpc.backup.overview.useQuery(undefined, {
    // Faster while something runs, so "Running" and Create follow its end closely.
    refetchInterval: (q) => (running.any || restoring || q.state.data?.running ? OVERVIEW_BUSY_POLL_MS : OVERVIEW_POLL_MS),
  });
  const catalogVersion = overview.data?.catalog_version;
  const seenVersion = useRef(catalogVersion);
  useEffect(() => {
    if (catalogVersion === undefined || catalogVersion === seenVersion.current) return;
    seenVersion.current = catalogVersion;
    void utils.backup.list.invalidate();
    void utils.audit.list.invalidate();
  }, [catalogVersion, utils]);
  const busy = overview.data?.running ?? null;

  const [createOpen, setCreateOpen] = useState(false);
  const [uploadOpen, setUploadOpen] = useState(false);
  const [toRestore, setToRestore] = useState<BackupRecord | null>(null);
  const [toBrowse, setToBrowse] = useState<BackupRecord | null>(null);
  const [toDelete, setToDelete] = useState<BackupRecord | null>(null);
  const [toVerifyWithKey, setToVerifyWithKey] = useState<BackupRecord | null>(null);
  const { pending: verifying, track: trackVerify } = usePendingIds();
  const { pending: cancelling, track: trackCancel } = usePendingIds();
  const { copiesByBackup, onRetryCopy, onCopyOffsite, retrying } = useOffsiteCopies();

  const refreshAll = () => {
    void utils.backup.list.invalidate();
    void utils.backup.overview.invalidate();
    void utils.audit.list.invalidate();
  };

  const verify = trpc.backup.verify.useMutation();
  const protect = trpc.backup.setProtected.useMutation({
    onSuccess: (updated) => {
      utils.backup.list.setData(undefined, (old) => withRow(old, updated));
      toast.success(updated.protected ? "Backup protected" : "Protection removed", {
        description: updated.protected
          ? `Retention never removes ${updated.filename}.`
          : `${updated.filename} follows the retention rules again.`,
      });
      void utils.audit.list.invalidate();
    },
    onError: (err) => toast.error("The protection was not changed", { description: errorMessage(err) }),
  });
  const cancel = trpc.backup.cancel.useMutation();
  const remove = trpc.backup.delete.useMutation({
    onSuccess: ({ id }) => {
      utils.backup.list.setData(undefined, (old) => withoutRow(old, id));
      toast.success("Backup deleted", { description: toDelete?.filename });
      setToDelete(null);
      refreshAll();
    },
  });

  const onVerify = (backup: BackupRecord) => {
    trackVerify(backup.id, verify.mutateAsync({ id: backup.id }))
      .then((updated) => {
        utils.backup.list.setData(undefined, (old) => withRow(old, updated));
        if (updated.verify_status === "ok" && updated.verify_scope === "structure") {
          toast.success("Checked without the key", {
            description: `${updated.filename} is encrypted and the server has no key for it: its age header, size and checksum are as made. "Verify with key" on its row checks the contents.`,
          });
        } else if (updated.verify_status === "ok") toast.success("Backup verified", { description: `${updated.filename} is complete and readable.` });
        else toast.error("Verification failed", { description: updated.verify_error ?? updated.filename });
      })
      .catch((err: unknown) => toast.error("The backup could not be verified", { description: errorMessage(err) }))
      .finally(() => void utils.audit.list.invalidate());
  };

  const onCancel = (backup: BackupRecord) => {
    running.markCancelled(backup.id);
    trackCancel(backup.id, cancel.mutateAsync({ id: backup.id })).catch((err: unknown) =>
      toast.error("The backup could not be cancelled", { description: errorMessage(err) }),
    );
  };

  const openCreate = () => setCreateOpen(true);

  const header = (
    <div className={styles.tabHeader}>
      <div>
        <h2 className={styles.tabTitle}>Backup &amp; restore</h2>
        <p className={styles.tabDescription}>
          Backups hold the database (users, tokens, settings), the files in storage and, if you like, the config folder.
          Download them to keep a copy elsewhere.
        </p>
      </div>
      <div className={styles.tabActions}>
        <Button icon={<UploadIcon size={14} />} onClick={() => setUploadOpen(true)}>
          Upload backup
        </Button>
        <Button
          variant="primary"
          icon={<ArchiveIcon size={14} />}
          // aria-disabled, not disabled: the button keeps focus (a dialog closing returns it here
          // while its backup has just started) and still reads its reason to a screen reader.
          onClick={busy ? undefined : openCreate}
          aria-disabled={busy ? true : undefined}
          aria-describedby={busy ? "create-busy-reason" : undefined}
        >
          Create backup
        </Button>
      </div>
      {busy ? (
        <p id="create-busy-reason" className={styles.busyReason} data-testid="create-busy-reason">
          {busyReason(busy)}
        </p>
      ) : null}
    </div>
  );

  // Network failure or a server that does not answer: say so; the polls go on and the banner goes when one succeeds.
  const unreachable = overview.isError && (errorHttpStatus(overview.error) === undefined || errorHttpStatus(overview.error)! >= 500);

  return (
    <div className="stack">
      {unreachable ? (
        <div role="alert" className={styles.offlineBanner} data-testid="offline-banner">
          <strong>The BaluHost server cannot be reached.</strong> What you see may be out of date; this page reconnects by
          itself when the server answers again.
        </div>
      ) : null}
      {header}

      <ProtectionStatus catalogVersion={catalogVersion} />

      <Summary list={list.data} overview={overview.data} />

      <Card
        flush
        headingLevel={3}
        title="Backups"
        description={backups && backups.length > 0 ? "Newest first. Restore, download, verify or delete a backup with the buttons on its row." : undefined}
      >
        {list.isPending ? (
          <div className="loading-block">
            <Spinner /> Loading backups…
          </div>
        ) : list.isError && !backups ? (
          <QueryError title="The backups could not be loaded" error={list.error} onRetry={() => void list.refetch()} />
        ) : !backups || backups.length === 0 ? (
          <EmptyState
            icon={<ArchiveIcon size={22} />}
            title="No backups yet"
            headingLevel={3}
            action={
              <>
                <Button variant="primary" icon={<ArchiveIcon size={14} />} onClick={openCreate}>
                  Create backup
                </Button>
                <Button icon={<UploadIcon size={14} />} onClick={() => setUploadOpen(true)}>
                  Upload backup
                </Button>
              </>
            }
          >
            <p>
              Create your first backup now: it takes a copy of the database and every file in storage,
              which you can restore or download later. Or upload an archive you downloaded before.
            </p>
          </EmptyState>
        ) : (
          <BackupTable
            backups={backups}
            running={running}
            actions={{
              onVerify,
              onVerifyWithKey: setToVerifyWithKey,
              onRestore: setToRestore,
              onBrowse: setToBrowse,
              onDelete: (b) => {
                remove.reset();
                setToDelete(b);
              },
              onCancel,
              onToggleProtected: (b) => protect.mutate({ id: b.id, protect: !b.protected }),
              verifying,
              cancelling,
              copies: copiesByBackup,
              onRetryCopy,
              onCopyOffsite,
              retrying,
            }}
          />
        )}
      </Card>

      <DrillStatus />

      <SchedulesCard />

      <RetentionCard retention={overview.data?.retention} />

      <OffsiteCard />
      <EncryptionCard />

      <NotificationsCard />

      <BackupAudit />

      <CreateBackupDialog
        open={createOpen}
        onOpenChange={setCreateOpen}
        backups={backups ?? []}
        onCreated={(backup) => {
          utils.backup.list.setData(undefined, (old) => withRow(old, backup));
          void utils.backup.overview.invalidate();
          void utils.audit.list.invalidate();
        }}
      />

      <UploadDialog
        open={uploadOpen}
        onOpenChange={setUploadOpen}
        onUploaded={(backup) => {
          utils.backup.list.setData(undefined, (old) => withRow(old, backup));
          toast.success("Backup uploaded", { description: backup.filename });
          refreshAll();
        }}
      />

      {toBrowse ? (
        <BrowseDialog
          key={toBrowse.id}
          backup={toBrowse}
          onClose={() => setToBrowse(null)}
          onRestored={() => {
            toast.success("Selected files restored");
            void utils.audit.list.invalidate();
          }}
        />
      ) : null}

      {toVerifyWithKey ? (
        <VerifyKeyDialog
          key={toVerifyWithKey.id}
          backup={toVerifyWithKey}
          onClose={() => setToVerifyWithKey(null)}
          onVerified={(updated) => {
            setToVerifyWithKey(null);
            utils.backup.list.setData(undefined, (old) => withRow(old, updated));
            if (updated.verify_status === "ok") toast.success("Backup verified", { description: `${updated.filename} decrypts, and every file in it is complete and readable.` });
            else toast.error("Verification failed", { description: updated.verify_error ?? updated.filename });
            void utils.audit.list.invalidate();
          }}
        />
      ) : null}

      {toRestore ? (
        <RestoreDialog
          key={toRestore.id}
          backup={toRestore}
          onClose={() => setToRestore(null)}
          onRunningChange={setRestoring}
          onRestored={() => {
            toast.success("Backup restored", { description: "Reload the application to see the restored data." });
            refreshAll();
          }}
          onUndo={(safetyId) => {
            void utils.backup.get.fetch({ id: safetyId }).then(setToRestore, (err: unknown) =>
              toast.error("The safety backup could not be opened", { description: errorMessage(err) }),
            );
          }}
        />
      ) : null}

      <ConfirmDialog
        open={toDelete !== null}
        onOpenChange={(open) => {
          if (!open) setToDelete(null);
        }}
        title={`Delete ${toDelete?.filename ?? "backup"}?`}
        confirmLabel="Delete backup"
        tone="danger"
        busy={remove.isPending}
        onConfirm={() => toDelete && remove.mutate({ id: toDelete.id })}
        extra={
          remove.error ? (
            <Callout tone="danger" title="The backup was not deleted">
              {errorMessage(remove.error)}
            </Callout>
          ) : null
        }
      >
        {toDelete?.status === "completed"
          ? `The archive (${formatBytes(toDelete.size_bytes)}) is removed from the backup folder. This cannot be undone; download it first if you may need it.`
          : "The failed backup's entry is removed from the list."}
      </ConfirmDialog>
    </div>
  );
}

function Summary({ list, overview }: { list: BackupList | undefined; overview: Overview | undefined }) {
  const backups = list?.backups ?? [];
  const completed = backups.filter((b) => b.status === "completed").length;
  const cancelled = backups.filter(isCancelled).length;
  const failed = backups.filter((b) => b.status === "failed").length - cancelled;
  const damaged = backups.filter((b) => b.status === "completed" && b.damaged).length;
  const inProgress = backups.filter((b) => b.status === "in_progress").length;
  const runningNow = overview?.running;
  return (
    <dl className={styles.stats} aria-label="Backup summary">
      <div className={styles.stat}>
        <dt>Total size</dt>
        <dd className={styles.statValue} data-testid="summary-total-size">
          {list ? formatBytes(list.total_size_bytes) : "–"}
        </dd>
        <dd className={styles.statSub}>of all completed backups</dd>
      </div>
      <div className={styles.stat}>
        <dt>Free space</dt>
        <dd className={styles.statValue} data-testid="summary-free">
          {overview ? (overview.free_bytes === null ? "Unknown" : formatBytes(overview.free_bytes)) : "–"}
        </dd>
        <dd className={styles.statSub}>on the backup volume</dd>
      </div>
      <div className={styles.stat}>
        <dt>Backups</dt>
        <dd className={styles.statValue} data-testid="summary-count">
          {formatCount(backups.length)}
        </dd>
        <dd className={styles.statSub}>
          {backups.length === 0
            ? "none yet"
            : [
                `${formatCount(completed)} completed`,
                damaged ? `${formatCount(damaged)} damaged` : null,
                failed ? `${formatCount(failed)} failed` : null,
                cancelled ? `${formatCount(cancelled)} cancelled` : null,
                inProgress ? `${formatCount(inProgress)} running` : null,
              ]
                .filter(Boolean)
                .join(" · ")}
        </dd>
      </div>
      <div className={styles.stat} data-running={runningNow ? true : undefined}>
        <dt>Running</dt>
        <dd className={styles.statValue} data-testid="summary-running">
          {runningNow ? (
            <span className={styles.runningNow}>
              <Spinner size={14} />{" "}
              {runningNow.operation === "restore"
                ? "Restore"
                : runningNow.operation === "verify"
                  ? "Verify"
                  : runningNow.subject.startsWith("restore drill")
                    ? "Restore drill"
                    : "Backup"}
            </span>
          ) : (
            "Nothing"
          )}
        </dd>
        <dd className={styles.statSub}>
          {runningNow ? (
            <>
              {runningNow.subject} · started <RelativeTime value={runningNow.started_at} />
            </>
          ) : (
            "No backup or restore is running"
          )}
        </dd>
      </div>
    </dl>
  );
}

