"use client";
/**
 * Retention: how many backups to keep, for how many days, and the GFS rules (the newest
 * backup of each of the last N days / weeks / months). Saving never deletes by surprise:
 * "Review changes" first asks the server what the new rules would remove now and lists it
 * (names, dates, sizes); only "Save" after that applies the rules, and the card says what
 * was removed. Each field shows the value in effect and where it comes from.
 */
import { useState, type FormEvent } from "react";
import { Badge } from "@/app/_components/badge";
import { Button } from "@/app/_components/button";
import { Callout } from "@/app/_components/callout";
import { DateTime } from "@/app/_components/date-time";
import { TextField } from "@/app/_components/field";
import { Card } from "@/app/_components/layout-parts";
import { toast } from "@/app/_components/toaster";
import { trpc, type RouterOutputs } from "@/app/_trpc/client";
import { errorMessage, fieldError } from "@/app/_trpc/errors";
import { formatBytes, pluralize } from "@/lib/format";
import { SOURCE_LABELS, TYPE_LABELS, type BackupType, type Overview, type RetentionSource } from "./backup-labels";
import styles from "./backup.module.css";

type Retention = Overview["retention"];
type Field = "max_count" | "retention_days" | "keep_daily" | "keep_weekly" | "keep_monthly";
type Draft = Record<Field, string>;
type Preview = RouterOutputs["backup"]["previewRetention"];

const ENV_NAMES: Partial<Record<Field, string>> = { max_count: "NAS_BACKUP_MAX_COUNT", retention_days: "NAS_BACKUP_RETENTION_DAYS" };

const FIELDS: Array<{ field: Field; label: string; unit: string; min: number; max: number; off?: string }> = [
  { field: "max_count", label: "Keep at most (backups)", unit: "backup", min: 1, max: 10000 },
  { field: "retention_days", label: "Keep for (days)", unit: "day", min: 1, max: 36500 },
  { field: "keep_daily", label: "Also keep daily (days)", unit: "daily backup", min: 0, max: 3650, off: "off" },
  { field: "keep_weekly", label: "Also keep weekly (weeks)", unit: "weekly backup", min: 0, max: 3650, off: "off" },
  { field: "keep_monthly", label: "Also keep monthly (months)", unit: "monthly backup", min: 0, max: 3650, off: "off" },
];

function InEffect({ value, source, field }: { value: string; source: RetentionSource; field: Field }) {
  const env = ENV_NAMES[field];
  return (
    <span className={styles.inEffect} data-testid={`retention-${field}-source`}>
      In effect: {value} · <Badge tone={source === "settings" ? "accent" : "neutral"}>{SOURCE_LABELS[source]}</Badge>
      {source === "environment" && env ? (
        <>
          {" "}
          <code>{env}</code>
        </>
      ) : null}
    </span>
  );
}

/** A whole number from a field's text; anything else goes to the server as is, to be refused there with its message. */
function toNumber(text: string): number {
  const n = Number(text.trim());
  return text.trim() === "" || !Number.isFinite(n) ? 0 : n;
}

function draftOf(retention: Retention | undefined): Draft {
  const value = (f: Field) => (retention ? String(retention[f]) : "");
  return {
    max_count: value("max_count"),
    retention_days: value("retention_days"),
    keep_daily: value("keep_daily"),
    keep_weekly: value("keep_weekly"),
    keep_monthly: value("keep_monthly"),
  };
}

const toInput = (d: Draft) => ({
  max_count: toNumber(d.max_count),
  retention_days: toNumber(d.retention_days),
  keep_daily: toNumber(d.keep_daily),
  keep_weekly: toNumber(d.keep_weekly),
  keep_monthly: toNumber(d.keep_monthly),
});

function inEffectText(retention: Retention, f: (typeof FIELDS)[number]): string {
  const n = retention[f.field];
  return n === 0 && f.off ? f.off : pluralize(n, f.unit);
}

export function RetentionCard({ retention }: { retention: Retention | undefined }) {
  const utils = trpc.useUtils();
  // null: not edited, show what is in effect.
  const [draft, setDraft] = useState<Draft | null>(null);
  // The server's answer to "what would these rules remove now?", shown before saving.
  const [preview, setPreview] = useState<Preview | null>(null);
  const [previewError, setPreviewError] = useState<unknown>(null);
  const [previewing, setPreviewing] = useState(false);

  const save = trpc.backup.updateRetention.useMutation({
    onSuccess: (saved) => {
      const { applied, deleted, ...rules } = saved;
      utils.backup.overview.setData(undefined, (old) => (old ? { ...old, retention: rules } : old));
      void utils.backup.overview.invalidate();
      void utils.backup.list.invalidate();
      void utils.audit.list.invalidate();
      setDraft(null);
      setPreview(null);
      toast.success("Retention settings saved", {
        description: !applied
          ? "Another operation is running: the rules are applied when it has finished."
          : deleted.length
            ? `${pluralize(deleted.length, "backup")} removed: ${deleted.map((d) => d.filename).join(", ")}.`
            : "No backup had to be removed.",
      });
    },
  });

  const values = draft ?? draftOf(retention);
  const errorOf = (field: Field) => fieldError(save.error, field) ?? fieldError(previewError, field);
  const anyFieldError = FIELDS.some((f) => errorOf(f.field));
  const otherError = save.error && !anyFieldError ? errorMessage(save.error) : previewError && !anyFieldError ? errorMessage(previewError) : null;

  const edit = (field: Field, text: string) => {
    setDraft({ ...values, [field]: text });
    setPreview(null);
  };

  const onReview = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    save.reset();
    setPreviewError(null);
    setPreviewing(true);
    utils.backup.previewRetention
      .fetch(toInput(values), { staleTime: 0 })
      .then(setPreview)
      .catch(setPreviewError)
      .finally(() => setPreviewing(false));
  };

  return (
    <Card
      headingLevel={3}
      title="Retention"
      description="Old backups are removed after each backup and every hour. A backup is kept when any rule keeps it; the newest backup, protected backups and every backup a kept incremental builds on are always kept."
    >
      <form onSubmit={onReview} noValidate className="stack-sm" style={{ gap: "var(--space-4)" }}>
        <div className={styles.retentionFields}>
          {FIELDS.map((f) => (
            <TextField
              key={f.field}
              label={f.label}
              name={f.field}
              type="number"
              inputMode="numeric"
              min={f.min}
              max={f.max}
              step={1}
              value={values[f.field]}
              onChange={(e) => edit(f.field, e.target.value)}
              error={errorOf(f.field)}
              hint={
                retention ? <InEffect field={f.field} value={inEffectText(retention, f)} source={retention.sources[f.field]} /> : undefined
              }
            />
          ))}
        </div>
        <p className={styles.retentionNote}>
          Daily, weekly and monthly keep the newest backup of each of the last N days, weeks or months that have one (0 = off),
          beside the two limits above.
        </p>
        {otherError ? (
          <Callout tone="danger" title="The settings were not saved">
            {otherError}
          </Callout>
        ) : null}
        {preview ? <RetentionPreview preview={preview} /> : null}
        <div className={styles.formActions}>
          {draft ? (
            <Button
              variant="ghost"
              onClick={() => {
                setDraft(null);
                setPreview(null);
                save.reset();
              }}
              disabled={save.isPending}
            >
              Discard changes
            </Button>
          ) : null}
          {preview ? (
            <Button
              variant={preview.remove.length ? "danger" : "primary"}
              loading={save.isPending}
              onClick={() => save.mutate(toInput(values))}
              data-testid="retention-confirm"
            >
              {preview.remove.length ? `Save and remove ${pluralize(preview.remove.length, "backup")}` : "Save retention"}
            </Button>
          ) : (
            <Button type="submit" variant="primary" loading={previewing}>
              Review changes
            </Button>
          )}
        </div>
      </form>
    </Card>
  );
}

function RetentionPreview({ preview }: { preview: Preview }) {
  if (preview.remove.length === 0) {
    return (
      <Callout tone="info" title="No backup will be removed">
        With these rules every current backup is kept. Save to apply them to future backups.
      </Callout>
    );
  }
  return (
    <Callout
      tone="warning"
      title={`Saving removes ${pluralize(preview.remove.length, "backup")} now (${formatBytes(preview.freed_bytes)})`}
    >
      <ul className={styles.removalList} data-testid="retention-preview">
        {preview.remove.map((r) => (
          <li key={r.id}>
            <span className="mono">{r.filename}</span> · {TYPE_LABELS[r.backup_type as BackupType] ?? r.backup_type} ·{" "}
            <DateTime value={r.created_at} /> · {r.status === "completed" ? formatBytes(r.size_bytes) : "failed, no archive"}
          </li>
        ))}
      </ul>
      <p>To keep one of them, protect it in the list first (it then survives every rule).</p>
    </Callout>
  );
}
