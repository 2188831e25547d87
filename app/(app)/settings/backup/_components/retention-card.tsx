"use client";
/**
 * Retention: how many backups to keep and for how many days. Each field shows the value
 * in effect and where it comes from (a saved setting wins over the environment variable,
 * which wins over the default); Save stores both as settings. The server validates, and
 * its field errors appear under their fields.
 */
import { useState, type FormEvent } from "react";
import { Badge } from "@/app/_components/badge";
import { Button } from "@/app/_components/button";
import { Callout } from "@/app/_components/callout";
import { TextField } from "@/app/_components/field";
import { pluralize } from "@/lib/format";
import { Card } from "@/app/_components/layout-parts";
import { toast } from "@/app/_components/toaster";
import { trpc } from "@/app/_trpc/client";
import { errorMessage, fieldError } from "@/app/_trpc/errors";
import { SOURCE_LABELS, type Overview, type RetentionSource } from "./backup-labels";
import styles from "./backup.module.css";

type Retention = Overview["retention"];

const ENV_NAMES = { max_count: "NAS_BACKUP_MAX_COUNT", retention_days: "NAS_BACKUP_RETENTION_DAYS" } as const;

function InEffect({ value, source, field }: { value: string; source: RetentionSource; field: keyof typeof ENV_NAMES }) {
  return (
    <span className={styles.inEffect} data-testid={`retention-${field}-source`}>
      In effect: {value} ·{" "}
      <Badge tone={source === "settings" ? "accent" : "neutral"}>{SOURCE_LABELS[source]}</Badge>
      {source === "environment" ? (
        <>
          {" "}
          <code>{ENV_NAMES[field]}</code>
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

export function RetentionCard({ retention }: { retention: Retention | undefined }) {
  const utils = trpc.useUtils();
  // null: not edited, show what is in effect.
  const [draft, setDraft] = useState<{ max_count: string; retention_days: string } | null>(null);
  const save = trpc.backup.updateRetention.useMutation({
    onSuccess: (saved) => {
      utils.backup.overview.setData(undefined, (old) => (old ? { ...old, retention: saved } : old));
      void utils.backup.overview.invalidate();
      void utils.audit.list.invalidate();
      setDraft(null);
      toast.success("Retention settings saved", {
        description: `Keeping at most ${pluralize(saved.max_count, "backup")}, none older than ${pluralize(saved.retention_days, "day")}.`,
      });
    },
  });

  const values = draft ?? {
    max_count: retention ? String(retention.max_count) : "",
    retention_days: retention ? String(retention.retention_days) : "",
  };
  const maxCountError = fieldError(save.error, "max_count");
  const daysError = fieldError(save.error, "retention_days");
  const otherError = save.error && !maxCountError && !daysError ? errorMessage(save.error) : null;

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    save.mutate({ max_count: toNumber(values.max_count), retention_days: toNumber(values.retention_days) });
  };

  return (
    <Card
      headingLevel={3}
      title="Retention"
      description="After each backup, old backups are removed when either limit is passed. The newest backup, and every backup a kept incremental builds on, are always kept."
    >
      <form onSubmit={onSubmit} noValidate className="stack-sm" style={{ gap: "var(--space-4)" }}>
        <div className={styles.retentionFields}>
          <TextField
            label="Keep at most (backups)"
            name="max_count"
            type="number"
            inputMode="numeric"
            min={1}
            max={10000}
            step={1}
            value={values.max_count}
            onChange={(e) => setDraft({ ...values, max_count: e.target.value })}
            error={maxCountError}
            hint={retention ? <InEffect field="max_count" value={pluralize(retention.max_count, "backup")} source={retention.sources.max_count} /> : undefined}
          />
          <TextField
            label="Keep for (days)"
            name="retention_days"
            type="number"
            inputMode="numeric"
            min={1}
            max={36500}
            step={1}
            value={values.retention_days}
            onChange={(e) => setDraft({ ...values, retention_days: e.target.value })}
            error={daysError}
            hint={
              retention ? (
                <InEffect field="retention_days" value={pluralize(retention.retention_days, "day")} source={retention.sources.retention_days} />
              ) : undefined
            }
          />
        </div>
        {otherError ? (
          <Callout tone="danger" title="The settings were not saved">
            {otherError}
          </Callout>
        ) : null}
        <div className={styles.formActions}>
          {draft ? (
            <Button
              variant="ghost"
              onClick={() => {
                setDraft(null);
                save.reset();
              }}
              disabled={save.isPending}
            >
              Discard changes
            </Button>
          ) : null}
          <Button type="submit" variant="primary" loading={save.isPending}>
            Save retention
          </Button>
        </div>
      </form>
    </Card>
  );
}
