"use client";
/**
 * Notifications: who hears about failed backups and lasting problems. The card shows the
 * channels (webhook or e-mail: where, which events, how the
 * last delivery went) with "Send test notification" per channel and its result, the alert
 * settings (no backup for N hours, free-space threshold, retention deletions) and the most
 * recent deliveries. Secrets are write-only: the form never receives one, it only says one
 * is saved, and leaving the field empty keeps it.
 */
import { useState, type FormEvent } from "react";
import { Badge, type BadgeTone } from "@/app/_components/badge";
import { Button } from "@/app/_components/button";
import { Callout } from "@/app/_components/callout";
import { RelativeTime } from "@/app/_components/date-time";
import { ConfirmDialog, Dialog } from "@/app/_components/dialog";
import { FormDialog } from "@/app/_components/form-dialog";
import { EmptyState } from "@/app/_components/empty-state";
import { SelectField, TextField } from "@/app/_components/field";
import { AlertTriangleIcon, PlusIcon, TrashIcon } from "@/app/_components/icons";
import { Card } from "@/app/_components/layout-parts";
import { QueryError } from "@/app/_components/query-error";
import { Spinner } from "@/app/_components/spinner";
import { usePendingIds } from "@/app/_components/use-pending-ids";
import { toast } from "@/app/_components/toaster";
import { trpc, type RouterInputs, type RouterOutputs } from "@/app/_trpc/client";
import { errorMessage, fieldError } from "@/app/_trpc/errors";
import styles from "./backup.module.css";

type Channel = RouterOutputs["notify"]["channels"][number];
type AlertSettings = RouterOutputs["notify"]["settings"];
type TestResult = RouterOutputs["notify"]["test"];
type CreateInput = RouterInputs["notify"]["createChannel"];
type Kind = Channel["kind"];

const EVENT_LABELS: Record<string, { label: string; description: string }> = {
  backup_failed: { label: "Backup failed", description: "A backup (scheduled, from the CLI or the API) did not finish." },
  verify_failed: { label: "Verification failed", description: "A backup's archive is damaged." },
  drill_failed: { label: "Restore drill failed", description: "A test restore into a sandbox did not pass its checks." },
  no_recent_backup: { label: "No recent backup", description: "No backup has succeeded for longer than the limit below." },
  disk_low: { label: "Low disk space", description: "The backup volume is below the free-space threshold." },
  retention_deleted: { label: "Retention deleted backups", description: "Old backups were removed by the retention rules." },
  offsite_copy_failed: { label: "Offsite copy failed", description: "A backup could not be copied to an offsite target after every retry." },
};
const EVENTS = Object.keys(EVENT_LABELS);
const DEFAULT_EVENTS = EVENTS.filter((e) => e !== "retention_deleted");


export function NotificationsCard() {
  const utils = trpc.useUtils();
  const channels = trpc.notify.channels.useQuery();
  const [editing, setEditing] = useState<Channel | "new" | null>(null);
  const [toRemove, setToRemove] = useState<Channel | null>(null);
  const { pending: testing, track: trackTest } = usePendingIds();
  const [results, setResults] = useState<Record<number, TestResult>>({});

  const refresh = () => {
    void utils.notify.channels.invalidate();
    void utils.notify.deliveries.invalidate();
    void utils.audit.list.invalidate();
  };

  const test = trpc.notify.test.useMutation();
  const remove = trpc.notify.removeChannel.useMutation({
    onSuccess: ({ name }) => {
      toast.success("Channel removed", { description: `${name} and its saved secret are gone.` });
      setToRemove(null);
      refresh();
    },
  });

  const onTest = (channel: Channel) => {
    trackTest(channel.id, test.mutateAsync({ id: channel.id }))
      .then((result) => setResults((r) => ({ ...r, [channel.id]: result })))
      .catch((err: unknown) => setResults((r) => ({ ...r, [channel.id]: { ok: false, error: errorMessage(err), duration_ms: 0 } })))
      .finally(refresh);
  };

  const list = channels.data ?? [];
  const addButton = (
    <Button variant="primary" size="sm" icon={<PlusIcon size={14} />} onClick={() => setEditing("new")}>
      Add channel
    </Button>
  );

  return (
    <Card
      headingLevel={3}
      title="Notifications"
      description="Where BaluHost reports failed backups, damaged archives, failed restore drills and lasting problems (no recent backup, low disk space)."
      actions={list.length > 0 ? addButton : undefined}
    >
      <div className="stack-sm" style={{ gap: "var(--space-4)" }}>
        {channels.isPending ? (
          <div className="loading-block">
            <Spinner /> Loading channels…
          </div>
        ) : channels.isError ? (
          <QueryError title="The notification channels could not be loaded" error={channels.error} onRetry={() => void channels.refetch()} />
        ) : list.length === 0 ? (
          <EmptyState icon={<AlertTriangleIcon size={22} />} title="No one is told when a backup fails" headingLevel={3} action={addButton}>
            <p>
              Add a webhook (chat, a monitoring system, your own script) or an e-mail address, and BaluHost sends a message when a
              backup fails or no backup has succeeded for too long, even when nobody has this page open.
            </p>
          </EmptyState>
        ) : (
          <ChannelTable
            channels={list}
            testing={testing}
            results={results}
            onTest={onTest}
            onEdit={setEditing}
            onRemove={(c) => {
              remove.reset();
              setToRemove(c);
            }}
          />
        )}

        <AlertSettingsForm />
        <RecentDeliveries />
      </div>

      {editing ? (
        <ChannelDialog
          key={editing === "new" ? "new" : editing.id}
          channel={editing === "new" ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={(saved, created) => {
            toast.success(created ? "Channel added" : "Channel saved", { description: created ? "Send a test notification to check it." : saved.name });
            setEditing(null);
            refresh();
          }}
        />
      ) : null}

      <ConfirmDialog
        open={toRemove !== null}
        onOpenChange={(open) => {
          if (!open) setToRemove(null);
        }}
        title={`Remove channel “${toRemove?.name ?? ""}”?`}
        confirmLabel="Remove channel"
        tone="danger"
        busy={remove.isPending}
        onConfirm={() => toRemove && remove.mutate({ id: toRemove.id })}
        extra={
          remove.error ? (
            <Callout tone="danger" title="The channel was not removed">
              {errorMessage(remove.error)}
            </Callout>
          ) : null
        }
      >
        Messages still waiting for it are dropped and its saved secret is deleted.
      </ConfirmDialog>
    </Card>
  );
}

function ChannelTable({
  channels,
  testing,
  results,
  onTest,
  onEdit,
  onRemove,
}: {
  channels: Channel[];
  testing: ReadonlySet<number>;
  results: Record<number, TestResult>;
  onTest: (c: Channel) => void;
  onEdit: (c: Channel) => void;
  onRemove: (c: Channel) => void;
}) {
  return (
    <div className="table-wrap">
      <table className="table table-stacked" data-testid="notification-channels">
        <caption className="visually-hidden">Notification channels</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Sends to</th>
            <th scope="col">Events</th>
            <th scope="col">Last delivery</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {channels.map((c) => {
            const result = results[c.id];
            return (
              <tr key={c.id} className={c.enabled ? undefined : "row-muted"}>
                <td data-label="Name" className="cell-strong">
                  {c.name}
                  <span className="cell-sub">
                    {c.kind === "webhook" ? "Webhook" : "E-mail"}
                    {c.enabled ? "" : " · off"}
                  </span>
                </td>
                <td data-label="Sends to" className="mono">
                  {c.target}
                </td>
                <td data-label="Events">{c.events.map((e) => EVENT_LABELS[e]?.label ?? e).join(", ") || "Only tests"}</td>
                <td data-label="Last delivery">
                  {c.last_delivery_at === null ? (
                    <span className="muted">Nothing sent yet</span>
                  ) : c.last_delivery_ok ? (
                    <>
                      <Badge tone="success">Delivered</Badge> <RelativeTime value={c.last_delivery_at} />
                    </>
                  ) : (
                    <>
                      <Badge tone="danger">Failed</Badge> <RelativeTime value={c.last_delivery_at} />
                      <span className="cell-sub">{c.last_delivery_error}</span>
                    </>
                  )}
                  {result ? (
                    <span className="cell-sub" role="status" data-testid={`test-result-${c.id}`}>
                      {result.ok ? `Test notification delivered (${result.duration_ms} ms).` : `Test failed: ${result.error}`}
                    </span>
                  ) : null}
                </td>
                <td data-label="" data-wide className="cell-actions">
                  <Button size="sm" onClick={() => onTest(c)} loading={testing.has(c.id)} aria-label={`Send test notification to ${c.name}`}>
                    Send test notification
                  </Button>
                  <Button size="sm" variant="ghost" onClick={() => onEdit(c)} aria-label={`Edit channel ${c.name}`}>
                    Edit
                  </Button>
                  <Button size="sm" variant="ghost" icon={<TrashIcon size={14} />} onClick={() => onRemove(c)} aria-label={`Remove channel ${c.name}`}>
                    Remove
                  </Button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

interface Draft {
  kind: Kind;
  name: string;
  enabled: boolean;
  events: string[];
  url: string;
  timeout: string;
  host: string;
  port: string;
  security: "starttls" | "tls" | "none";
  verifyTls: boolean;
  user: string;
  from: string;
  to: string;
  secret: string;
  clearSecret: boolean;
}

function draftOf(channel: Channel | null): Draft {
  const s = (channel?.settings ?? {}) as Record<string, unknown>;
  const str = (v: unknown, fallback = "") => (v === undefined || v === null ? fallback : String(v));
  return {
    kind: channel?.kind ?? "webhook",
    name: channel?.name ?? "",
    enabled: channel?.enabled ?? true,
    events: channel?.events ?? DEFAULT_EVENTS,
    url: str(s.url),
    timeout: str(s.timeout_seconds, "10"),
    host: str(s.host),
    port: str(s.port, "587"),
    security: (s.security as Draft["security"]) ?? "starttls",
    verifyTls: s.verify_tls !== false,
    user: str(s.user),
    from: str(s.from),
    to: Array.isArray(s.to) ? s.to.join(", ") : "",
    secret: "",
    clearSecret: false,
  };
}

const toInt = (text: string) => (text.trim() === "" || !Number.isFinite(Number(text)) ? 0 : Number(text));

function settingsOf(d: Draft) {
  return d.kind === "webhook"
    ? { url: d.url.trim(), timeout_seconds: toInt(d.timeout) }
    : {
        host: d.host.trim(),
        port: toInt(d.port),
        security: d.security,
        verify_tls: d.verifyTls,
        user: d.user.trim() || undefined,
        from: d.from.trim(),
        to: d.to.split(/[,;\s]+/).filter(Boolean),
      };
}

function ChannelDialog({ channel, onClose, onSaved }: { channel: Channel | null; onClose: () => void; onSaved: (c: Channel, created: boolean) => void }) {
  const [d, setD] = useState<Draft>(() => draftOf(channel));
  const create = trpc.notify.createChannel.useMutation({ onSuccess: (c) => onSaved(c, true) });
  const update = trpc.notify.updateChannel.useMutation({ onSuccess: (c) => onSaved(c, false) });
  const saving = create.isPending || update.isPending;
  const error = create.error ?? update.error;
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setD((old) => ({ ...old, [key]: value }));
  const secretLabel = d.kind === "webhook" ? "Signing secret (optional)" : "SMTP password";
  const secretHint = channel?.has_secret
    ? "Saved — leave empty to keep it."
    : d.kind === "webhook"
      ? "Signs each request (X-BaluHost-Signature: HMAC-SHA256 of the body). Stored outside the database and every backup."
      : "Only with a user name. Stored outside the database and every backup.";

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const events = d.events as CreateInput["events"];
    const secret = d.secret === "" ? undefined : d.secret;
    if (channel) {
      update.mutate({ id: channel.id, name: d.name, enabled: d.enabled, events, settings: settingsOf(d), secret, clear_secret: d.clearSecret || undefined });
    } else if (d.kind === "webhook") {
      create.mutate({ kind: "webhook", name: d.name, enabled: d.enabled, events, settings: settingsOf(d) as { url: string; timeout_seconds: number }, secret });
    } else {
      create.mutate({ kind: "email", name: d.name, enabled: d.enabled, events, settings: settingsOf(d) as Extract<CreateInput, { kind: "email" }>["settings"], secret });
    }
  };

  return (
    <FormDialog title={channel ? `Edit “${channel.name}”` : "Add notification channel"} submitLabel={channel ? "Save channel" : "Add channel"} busy={saving} onClose={onClose} onSubmit={onSubmit}>
      {channel ? null : (
        <fieldset className={styles.choices}>
          <legend className="field-label">Kind</legend>
          {(["webhook", "email"] as const).map((kind) => (
            <label key={kind} className={styles.choice}>
              <input type="radio" name="kind" value={kind} checked={d.kind === kind} onChange={() => set("kind", kind)} />
              <span className={styles.choiceText}>
                <span className={styles.choiceLabel}>{kind === "webhook" ? "Webhook" : "E-mail"}</span>
                <span className={styles.choiceDescription}>
                  {kind === "webhook" ? "A JSON POST to a URL: chat, monitoring, your own script." : "A message through your SMTP server."}
                </span>
              </span>
            </label>
          ))}
        </fieldset>
      )}
      <TextField label="Name" name="name" value={d.name} onChange={(e) => set("name", e.target.value)} maxLength={100} error={fieldError(error, "name")} autoComplete="off" />
      {d.kind === "webhook" ? (
        <>
          <TextField label="URL" name="url" type="url" value={d.url} onChange={(e) => set("url", e.target.value)} placeholder="https://hooks.example.com/baluhost" autoComplete="off" />
          <TextField label="Timeout (seconds)" name="timeout" type="number" min={1} max={60} value={d.timeout} onChange={(e) => set("timeout", e.target.value)} hint="1-60; an answer later than this counts as a failure and is retried." />
        </>
      ) : (
        <>
          <div className="form-row form-row-top">
            <TextField label="SMTP server" name="host" value={d.host} onChange={(e) => set("host", e.target.value)} placeholder="smtp.example.com" autoComplete="off" />
            <TextField label="Port" name="port" type="number" min={1} max={65535} value={d.port} onChange={(e) => set("port", e.target.value)} />
          </div>
          <SelectField label="Encryption" name="security" value={d.security} onChange={(e) => set("security", e.target.value as Draft["security"])} hint="None is refused with a password unless the server is this machine (localhost).">
            <option value="starttls">STARTTLS (usually port 587)</option>
            <option value="tls">TLS (usually port 465)</option>
            <option value="none">None (a relay on this machine or your own network)</option>
          </SelectField>
          {d.security === "none" ? null : (
            <label className={styles.checkbox}>
              <input type="checkbox" checked={d.verifyTls} onChange={(e) => set("verifyTls", e.target.checked)} />
              <span className={styles.choiceText}>
                <span className={styles.choiceLabel}>Verify TLS certificate</span>
                <span className={styles.choiceDescription}>Switch off only for a relay with a self-signed certificate on your own network.</span>
              </span>
            </label>
          )}
          <TextField label="User name (optional)" name="user" value={d.user} onChange={(e) => set("user", e.target.value)} autoComplete="off" />
          <TextField label="From" name="from" type="email" value={d.from} onChange={(e) => set("from", e.target.value)} placeholder="nas@example.com" />
          <TextField label="To" name="to" value={d.to} onChange={(e) => set("to", e.target.value)} placeholder="admin@example.com, backup@example.com" hint="One or more addresses, separated by commas." />
        </>
      )}
      <TextField
        label={secretLabel}
        name="secret"
        type="password"
        value={d.secret}
        onChange={(e) => set("secret", e.target.value)}
        placeholder={channel?.has_secret ? "saved — leave empty to keep" : undefined}
        autoComplete="new-password"
        hint={secretHint}
        disabled={d.clearSecret}
      />
      {channel?.has_secret ? (
        <label className={styles.checkbox}>
          <input type="checkbox" checked={d.clearSecret} onChange={(e) => set("clearSecret", e.target.checked)} />
          <span className={styles.choiceText}>
            <span className={styles.choiceLabel}>Remove the saved {d.kind === "webhook" ? "secret" : "password"}</span>
          </span>
        </label>
      ) : null}
      <fieldset className={styles.choices}>
        <legend className="field-label">Send a message when</legend>
        {EVENTS.map((event) => (
          <label key={event} className={styles.checkbox}>
            <input
              type="checkbox"
              checked={d.events.includes(event)}
              onChange={(e) => set("events", e.target.checked ? [...d.events, event] : d.events.filter((x) => x !== event))}
            />
            <span className={styles.choiceText}>
              <span className={styles.choiceLabel}>{EVENT_LABELS[event]!.label}</span>
              <span className={styles.choiceDescription}>{EVENT_LABELS[event]!.description}</span>
            </span>
          </label>
        ))}
      </fieldset>
      <label className={styles.checkbox}>
        <input type="checkbox" checked={d.enabled} onChange={(e) => set("enabled", e.target.checked)} />
        <span className={styles.choiceText}>
          <span className={styles.choiceLabel}>Channel on</span>
          <span className={styles.choiceDescription}>Off: nothing is sent to it (tests still are).</span>
        </span>
      </label>
      {error && !fieldError(error, "name") ? (
        <Callout tone="danger" title="The channel was not saved">
          {errorMessage(error)}
        </Callout>
      ) : null}
    </FormDialog>
  );
}

function AlertSettingsForm() {
  const utils = trpc.useUtils();
  const current = trpc.notify.settings.useQuery();
  const [draft, setDraft] = useState<{ hours: string; percent: string; retention: boolean } | null>(null);
  const save = trpc.notify.updateSettings.useMutation({
    onSuccess: (saved) => {
      utils.notify.settings.setData(undefined, saved);
      void utils.notify.health.invalidate();
      setDraft(null);
      toast.success("Alert settings saved");
    },
  });
  const data: AlertSettings | undefined = current.data;
  const values = draft ?? (data ? { hours: String(data.no_backup_hours), percent: String(data.disk_free_min_percent), retention: data.notify_retention_deleted } : null);
  if (!values) return null;
  const edit = (patch: Partial<typeof values>) => setDraft({ ...values, ...patch });

  return (
    <form
      noValidate
      className="stack-sm"
      style={{ gap: "var(--space-3)" }}
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate({ no_backup_hours: toInt(values.hours), disk_free_min_percent: toInt(values.percent), notify_retention_deleted: values.retention });
      }}
    >
      <h4 className="field-label">Alerts</h4>
      <div className={styles.retentionFields}>
        <TextField
          label="No successful backup for (hours)"
          name="no_backup_hours"
          type="number"
          min={0}
          max={8760}
          value={values.hours}
          onChange={(e) => edit({ hours: e.target.value })}
          error={fieldError(save.error, "no_backup_hours")}
          hint="Alert once when exceeded, all-clear when a backup succeeds. 0 = off."
        />
        <TextField
          label="Free space below (%)"
          name="disk_free_min_percent"
          type="number"
          min={0}
          max={90}
          value={values.percent}
          onChange={(e) => edit({ percent: e.target.value })}
          error={fieldError(save.error, "disk_free_min_percent")}
          hint="On the backup volume. 0 = off."
        />
      </div>
      <label className={styles.checkbox}>
        <input type="checkbox" checked={values.retention} onChange={(e) => edit({ retention: e.target.checked })} />
        <span className={styles.choiceText}>
          <span className={styles.choiceLabel}>Notify on retention deletions</span>
          <span className={styles.choiceDescription}>Sent to channels that chose “Retention deleted backups”.</span>
        </span>
      </label>
      {save.error && !fieldError(save.error, "no_backup_hours") && !fieldError(save.error, "disk_free_min_percent") ? (
        <Callout tone="danger" title="The alert settings were not saved">
          {errorMessage(save.error)}
        </Callout>
      ) : null}
      <div className={styles.formActions}>
        {draft ? (
          <Button variant="ghost" onClick={() => setDraft(null)} disabled={save.isPending}>
            Discard changes
          </Button>
        ) : null}
        <Button type="submit" variant="primary" loading={save.isPending} disabled={!draft}>
          Save alert settings
        </Button>
      </div>
    </form>
  );
}

const DELIVERY_TONES: Record<string, BadgeTone> = { sent: "success", pending: "warning", failed: "danger" };
const DELIVERY_WORDS: Record<string, string> = { sent: "Sent", pending: "Waiting", failed: "Failed" };

function RecentDeliveries() {
  const deliveries = trpc.notify.deliveries.useQuery({ limit: 10 }, { refetchInterval: 15_000 });
  const rows = deliveries.data ?? [];
  if (rows.length === 0) return null;
  return (
    <details>
      <summary>Recent messages ({rows.length})</summary>
      <ul className={styles.removalList} data-testid="notification-deliveries">
        {rows.map((d) => (
          <li key={d.id}>
            <Badge tone={DELIVERY_TONES[d.status] ?? "neutral"}>{DELIVERY_WORDS[d.status] ?? d.status}</Badge> {d.title} → {d.channel_name} ·{" "}
            <RelativeTime value={d.created_at} />
            {d.status === "pending" && d.attempts > 0 ? ` · attempt ${d.attempts + 1} ${d.next_attempt_at ? "scheduled" : ""}` : ""}
            {d.last_error ? <span className="cell-sub">{d.last_error}</span> : null}
          </li>
        ))}
      </ul>
    </details>
  );
}
