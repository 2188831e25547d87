"use client";
/**
 * Offsite copies: the S3-compatible targets backups are copied to (where, what each keeps,
 * whether the last connection test passed), with Test connection, Edit and Remove per
 * target, and "Contents" to see what a bucket holds (read from the bucket, so it works after
 * the local catalog is lost) and bring a backup back. Keys are write-only: the form never
 * receives them, it only says they are saved, and leaving both fields empty keeps them.
 */
import { useState, type FormEvent } from "react";
import { Badge } from "@/app/_components/badge";
import { Button } from "@/app/_components/button";
import { Callout } from "@/app/_components/callout";
import { DateTime, RelativeTime } from "@/app/_components/date-time";
import { ConfirmDialog, Dialog } from "@/app/_components/dialog";
import { FormDialog } from "@/app/_components/form-dialog";
import { EmptyState } from "@/app/_components/empty-state";
import { TextField } from "@/app/_components/field";
import { AlertTriangleIcon, PlusIcon, TrashIcon } from "@/app/_components/icons";
import { Card } from "@/app/_components/layout-parts";
import { QueryError } from "@/app/_components/query-error";
import { Spinner } from "@/app/_components/spinner";
import { usePendingIds } from "@/app/_components/use-pending-ids";
import { toast } from "@/app/_components/toaster";
import { trpc, type RouterOutputs } from "@/app/_trpc/client";
import { errorMessage, fieldError } from "@/app/_trpc/errors";
import { formatBytes } from "@/lib/format";
import { archiveKeyFields } from "./archive-key";
import styles from "./backup.module.css";

type Target = RouterOutputs["offsite"]["targets"][number];
type TestResult = RouterOutputs["offsite"]["testTarget"];

export function OffsiteCard() {
  const utils = trpc.useUtils();
  const targets = trpc.offsite.targets.useQuery();
  const [editing, setEditing] = useState<Target | "new" | null>(null);
  const [toRemove, setToRemove] = useState<Target | null>(null);
  const [browsing, setBrowsing] = useState<Target | null>(null);
  const { pending: testing, track: trackTest } = usePendingIds();
  const [results, setResults] = useState<Record<number, TestResult>>({});
  const refresh = () => {
    void utils.offsite.targets.invalidate();
    void utils.offsite.copies.invalidate();
    void utils.audit.list.invalidate();
  };
  const test = trpc.offsite.testTarget.useMutation();
  const remove = trpc.offsite.removeTarget.useMutation({
    onSuccess: ({ name }) => {
      toast.success("Target removed", { description: `${name} and its saved keys are gone; its copies stay in the bucket.` });
      setToRemove(null);
      refresh();
    },
  });
  const onTest = (t: Target) => {
    trackTest(t.id, test.mutateAsync({ id: t.id }))
      .then((result) => setResults((r) => ({ ...r, [t.id]: result })))
      .catch((err: unknown) => setResults((r) => ({ ...r, [t.id]: { ok: false, failed_step: null, failure_kind: null, error: errorMessage(err), duration_ms: 0 } })))
      .finally(refresh);
  };
  const list = targets.data ?? [];
  const addButton = (
    <Button variant="primary" size="sm" icon={<PlusIcon size={14} />} onClick={() => setEditing("new")}>
      Add target
    </Button>
  );

  return (
    <Card
      headingLevel={3}
      title="Offsite copies"
      description="S3-compatible buckets (AWS S3, Backblaze B2, MinIO, Ceph, Wasabi) that every finished backup is copied to in the background, checked by reading it back."
      actions={list.length > 0 ? addButton : undefined}
    >
      {targets.isPending ? (
        <div className="loading-block">
          <Spinner /> Loading targets…
        </div>
      ) : targets.isError ? (
        <QueryError title="The offsite targets could not be loaded" error={targets.error} onRetry={() => void targets.refetch()} />
      ) : list.length === 0 ? (
        <EmptyState icon={<AlertTriangleIcon size={22} />} title="Every backup is on this machine only" headingLevel={3} action={addButton}>
          <p>A backup on the same disk as the data dies with that disk. Add a bucket on another site, and each new backup is copied there.</p>
        </EmptyState>
      ) : (
        <div className="table-wrap">
          <table className="table table-stacked" data-testid="offsite-targets">
            <caption className="visually-hidden">Offsite targets</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Where</th>
                <th scope="col">Keeps</th>
                <th scope="col">Connection</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((t) => {
                const result = results[t.id];
                return (
                  <tr key={t.id} className={t.enabled ? undefined : "row-muted"} data-testid={`offsite-target-${t.id}`}>
                    <td data-label="Name" className="cell-strong">
                      {t.name}
                      <span className="cell-sub">{t.enabled ? (t.has_secret ? "keys saved" : "no keys saved") : "off"}</span>
                    </td>
                    <td data-label="Where" className="mono">
                      {t.location}
                    </td>
                    <td data-label="Keeps">{keepsLabel(t)}</td>
                    <td data-label="Connection">
                      {t.last_test_at === null ? (
                        <span className="muted">Not tested</span>
                      ) : t.last_test_ok ? (
                        <>
                          <Badge tone="success">Works</Badge> <RelativeTime value={t.last_test_at} />
                        </>
                      ) : (
                        <>
                          <Badge tone="danger">Failed</Badge> <RelativeTime value={t.last_test_at} />
                          <span className="cell-sub">{t.last_test_error}</span>
                        </>
                      )}
                      {result ? (
                        <span className="cell-sub" role="status" data-testid={`offsite-test-result-${t.id}`}>
                          {result.ok ? `Connection works: wrote, read back and deleted a test object (${result.duration_ms} ms).` : `Test failed${result.failed_step ? ` at “${result.failed_step}”` : ""}: ${result.error}`}
                        </span>
                      ) : null}
                    </td>
                    <td data-label="" data-wide className="cell-actions">
                      <Button size="sm" onClick={() => onTest(t)} loading={testing.has(t.id)} aria-label={`Test connection to ${t.name}`}>
                        Test connection
                      </Button>
                      <Button size="sm" variant="ghost" onClick={() => setBrowsing(t)} aria-label={`Show the backups on ${t.name}`}>
                        Contents
                      </Button>
                      <Button size="sm" variant="ghost" onClick={() => setEditing(t)} aria-label={`Edit target ${t.name}`}>
                        Edit
                      </Button>
                      <Button size="sm" variant="ghost" icon={<TrashIcon size={14} />} onClick={() => setToRemove(t)} aria-label={`Remove target ${t.name}`}>
                        Remove
                      </Button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}

      {editing ? (
        <TargetDialog
          key={editing === "new" ? "new" : editing.id}
          target={editing === "new" ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={(saved, created) => {
            toast.success(created ? "Target added" : "Target saved", { description: created ? "Test the connection to check it." : saved.name });
            setEditing(null);
            refresh();
          }}
        />
      ) : null}
      {browsing ? <RemoteContents target={browsing} onClose={() => setBrowsing(null)} /> : null}
      <ConfirmDialog
        open={toRemove !== null}
        onOpenChange={(open) => {
          if (!open) setToRemove(null);
        }}
        title={`Remove target “${toRemove?.name ?? ""}”?`}
        confirmLabel="Remove target"
        tone="danger"
        busy={remove.isPending}
        onConfirm={() => toRemove && remove.mutate({ id: toRemove.id })}
        extra={remove.error ? <Callout tone="danger" title="The target was not removed">{errorMessage(remove.error)}</Callout> : null}
      >
        Its saved keys are deleted and nothing more is copied there. The copies already in the bucket stay.
      </ConfirmDialog>
    </Card>
  );
}

function keepsLabel(t: Target): string {
  const parts = [t.keep_count !== null ? `newest ${t.keep_count}` : null, t.keep_days !== null ? `${t.keep_days} days` : null].filter(Boolean);
  return parts.length ? parts.join(", ") : "everything";
}

interface Draft {
  name: string;
  endpoint: string;
  region: string;
  bucket: string;
  prefix: string;
  pathStyle: boolean;
  storageClass: string;
  keepCount: string;
  keepDays: string;
  accessKey: string;
  secretKey: string;
  enabled: boolean;
}

function draftOf(t: Target | null): Draft {
  return {
    name: t?.name ?? "",
    endpoint: t?.endpoint ?? "",
    region: t?.region ?? "us-east-1",
    bucket: t?.bucket ?? "",
    prefix: t?.prefix ?? "baluhost",
    pathStyle: t?.force_path_style ?? false,
    storageClass: t?.storage_class ?? "",
    keepCount: t?.keep_count?.toString() ?? "",
    keepDays: t?.keep_days?.toString() ?? "",
    accessKey: "",
    secretKey: "",
    enabled: t?.enabled ?? true,
  };
}

const numberOrNull = (text: string) => (text.trim() === "" ? null : Number(text));

function TargetDialog({ target, onClose, onSaved }: { target: Target | null; onClose: () => void; onSaved: (t: Target, created: boolean) => void }) {
  const [d, setD] = useState<Draft>(() => draftOf(target));
  const create = trpc.offsite.createTarget.useMutation({ onSuccess: (t) => onSaved(t, true) });
  const update = trpc.offsite.updateTarget.useMutation({ onSuccess: (t) => onSaved(t, false) });
  const saving = create.isPending || update.isPending;
  const error = create.error ?? update.error;
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setD((old) => ({ ...old, [key]: value }));
  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const fields = {
      name: d.name,
      endpoint: d.endpoint.trim(),
      region: d.region.trim(),
      bucket: d.bucket.trim(),
      prefix: d.prefix.trim(),
      force_path_style: d.pathStyle,
      storage_class: d.storageClass.trim() || null,
      keep_count: numberOrNull(d.keepCount),
      keep_days: numberOrNull(d.keepDays),
      enabled: d.enabled,
    };
    const keys = d.accessKey || d.secretKey ? { access_key_id: d.accessKey, secret_access_key: d.secretKey } : {};
    if (target) update.mutate({ id: target.id, ...fields, ...keys });
    else create.mutate({ ...fields, access_key_id: d.accessKey, secret_access_key: d.secretKey });
  };
  const keyHint = target?.has_secret ? "Saved — leave both key fields empty to keep them." : "Stored in data/secrets (mode 0600), outside the database and every backup; never shown again.";
  return (
    <FormDialog title={target ? `Edit “${target.name}”` : "Add offsite target"} submitLabel={target ? "Save target" : "Add target"} busy={saving} onClose={onClose} onSubmit={onSubmit}>
      <TextField label="Name" name="name" value={d.name} onChange={(e) => set("name", e.target.value)} maxLength={100} error={fieldError(error, "name")} autoComplete="off" />
      <TextField
        label="Endpoint URL"
        name="endpoint"
        type="url"
        value={d.endpoint}
        onChange={(e) => set("endpoint", e.target.value)}
        placeholder="https://s3.eu-central-003.backblazeb2.com"
        hint="Empty for AWS S3. MinIO: http://minio.local:9000 · Backblaze B2: https://s3.<region>.backblazeb2.com"
        error={fieldError(error, "endpoint")}
        autoComplete="off"
      />
      <div className="form-row form-row-top">
        <TextField label="Bucket" name="bucket" value={d.bucket} onChange={(e) => set("bucket", e.target.value)} error={fieldError(error, "bucket")} autoComplete="off" />
        <TextField label="Region" name="region" value={d.region} onChange={(e) => set("region", e.target.value)} error={fieldError(error, "region")} autoComplete="off" />
      </div>
      <TextField label="Folder in the bucket (prefix)" name="prefix" value={d.prefix} onChange={(e) => set("prefix", e.target.value)} error={fieldError(error, "prefix")} autoComplete="off" />
      <label className={styles.checkbox}>
        <input type="checkbox" checked={d.pathStyle} onChange={(e) => set("pathStyle", e.target.checked)} />
        <span className={styles.choiceText}>
          <span className={styles.choiceLabel}>Path-style URLs</span>
          <span className={styles.choiceDescription}>Needed by MinIO, Ceph and Garage; leave off for AWS S3 and Backblaze B2.</span>
        </span>
      </label>
      <TextField label="Access key" name="access_key_id" value={d.accessKey} onChange={(e) => set("accessKey", e.target.value)} placeholder={target?.has_secret ? "saved — leave empty to keep" : undefined} autoComplete="off" error={fieldError(error, "access_key_id")} />
      <TextField
        label="Secret key"
        name="secret_access_key"
        type="password"
        value={d.secretKey}
        onChange={(e) => set("secretKey", e.target.value)}
        placeholder={target?.has_secret ? "saved — leave empty to keep" : undefined}
        autoComplete="new-password"
        hint={keyHint}
        error={fieldError(error, "secret_access_key")}
      />
      <div className="form-row form-row-top">
        <TextField label="Keep at most (copies)" name="keep_count" type="number" min={1} value={d.keepCount} onChange={(e) => set("keepCount", e.target.value)} hint="Empty: no limit." error={fieldError(error, "keep_count")} />
        <TextField label="Keep for (days)" name="keep_days" type="number" min={1} value={d.keepDays} onChange={(e) => set("keepDays", e.target.value)} hint="Empty: no limit." error={fieldError(error, "keep_days")} />
      </div>
      <TextField label="Storage class (optional)" name="storage_class" value={d.storageClass} onChange={(e) => set("storageClass", e.target.value)} placeholder="STANDARD_IA" autoComplete="off" error={fieldError(error, "storage_class")} />
      <label className={styles.checkbox}>
        <input type="checkbox" checked={d.enabled} onChange={(e) => set("enabled", e.target.checked)} />
        <span className={styles.choiceText}>
          <span className={styles.choiceLabel}>Copy new backups here</span>
          <span className={styles.choiceDescription}>Off: nothing is copied; what is in the bucket stays and can still be listed.</span>
        </span>
      </label>
      {error && !fieldError(error, "name") ? (
        <Callout tone="danger" title="The target was not saved">
          {errorMessage(error)}
        </Callout>
      ) : null}
    </FormDialog>
  );
}

function RemoteContents({ target, onClose }: { target: Target; onClose: () => void }) {
  const utils = trpc.useUtils();
  const contents = trpc.offsite.remoteList.useQuery({ id: target.id });
  const { pending: importing, track } = usePendingIds();
  const importOne = trpc.offsite.remoteImport.useMutation();
  // For encrypted backups the server holds no key for (public-key mode, or an earlier
  // passphrase): used for the one request, never stored.
  const [archiveKey, setArchiveKey] = useState("");
  const anyEncrypted = contents.data?.some((b) => b.filename.endsWith(".age")) ?? false;
  const onImport = (filename: string, key: number) => {
    const keyFields = filename.endsWith(".age") ? archiveKeyFields(archiveKey) : {};
    track(
      key,
      importOne.mutateAsync({ target_id: target.id, filename, ...keyFields }).then(({ backups }) => {
        const last = backups[backups.length - 1];
        toast.success("Backup brought back", { description: `${filename} is in the list as ${last?.filename ?? "a new backup"}; restore it from there.` });
        void utils.backup.list.invalidate();
        void contents.refetch();
      }),
    ).catch((err: unknown) => toast.error("The backup was not brought back", { description: errorMessage(err) }));
  };
  return (
    <Dialog
      open
      onOpenChange={(open) => {
        if (!open) onClose();
      }}
      size="lg"
      title={`Backups on “${target.name}”`}
      description={`Read from ${target.location}: this works even when the backup list here is empty.`}
      footer={<Button onClick={onClose}>Close</Button>}
    >
      {contents.isPending ? (
        <div className="loading-block">
          <Spinner /> Listing the bucket…
        </div>
      ) : contents.isError ? (
        <QueryError title="The bucket could not be listed" error={contents.error} onRetry={() => void contents.refetch()} />
      ) : contents.data.length === 0 ? (
        <p className="muted">The target holds no backups yet.</p>
      ) : (
        <div className="stack-sm" style={{ gap: "var(--space-4)" }}>
          {anyEncrypted ? (
            <TextField
              label="Key for encrypted backups (optional)"
              name="archive_key"
              type="password"
              autoComplete="off"
              spellCheck={false}
              value={archiveKey}
              onChange={(e) => setArchiveKey(e.target.value)}
              data-testid="offsite-import-key"
              hint="Only for a .age backup the server has no key for: its passphrase, or the private key line (AGE-SECRET-KEY-1…). Used to check it as it comes back, never stored."
            />
          ) : null}
          <div className="table-wrap">
            <table className="table table-stacked" data-testid="offsite-contents">
              <caption className="visually-hidden">Backups on {target.name}</caption>
              <thead>
                <tr>
                  <th scope="col">Backup</th>
                  <th scope="col">Made</th>
                  <th scope="col">Size</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {contents.data.map((b, i) => (
                  <tr key={b.key}>
                    <td data-label="Backup">
                      <span className="mono">{b.filename}</span>
                      <span className="cell-sub">
                        {b.backup_type ?? "not made by BaluHost"}
                        {b.parent ? ` · builds on ${b.parent}` : ""}
                      </span>
                    </td>
                    <td data-label="Made">{b.created_at ? <DateTime value={b.created_at} relative stacked /> : <span className="muted">–</span>}</td>
                    <td data-label="Size" className="nowrap">
                      {formatBytes(b.size_bytes)}
                    </td>
                    <td data-label="" className="cell-actions">
                      {b.local_backup_id !== null ? (
                        <Badge tone="neutral">In the list</Badge>
                      ) : (
                        <Button size="sm" onClick={() => onImport(b.filename, i)} loading={importing.has(i)} disabled={b.sha256 === null} aria-label={`Bring back ${b.filename}`}>
                          Bring back
                        </Button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
    </Dialog>
  );
}
