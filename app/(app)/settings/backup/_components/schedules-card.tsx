"use client";
/**
 * Schedules: the backup plans, each with what it backs up, when (in words and as cron),
 * its next run and how its last run went; switch one on or off, run it now, edit or delete
 * it. The Add/Edit dialog offers presets or a custom cron expression in a time zone
 * (default the browser's) and shows the next five run times as the server computes them
 * while the admin types, so a plan is never saved without seeing when it will run.
 */
import { useEffect, useId, useMemo, useState, type FormEvent } from "react";
import { Badge } from "@/app/_components/badge";
import { Button } from "@/app/_components/button";
import { Callout } from "@/app/_components/callout";
import { DateTime, RelativeTime, useNow } from "@/app/_components/date-time";
import { ConfirmDialog, Dialog } from "@/app/_components/dialog";
import { EmptyState } from "@/app/_components/empty-state";
import { SelectField, TextField } from "@/app/_components/field";
import { ClockIcon, PlusIcon, TrashIcon } from "@/app/_components/icons";
import { Card } from "@/app/_components/layout-parts";
import { QueryError } from "@/app/_components/query-error";
import { Spinner } from "@/app/_components/spinner";
import { usePendingIds } from "@/app/_components/use-pending-ids";
import { toast } from "@/app/_components/toaster";
import { trpc, type RouterOutputs } from "@/app/_trpc/client";
import { errorMessage, fieldError } from "@/app/_trpc/errors";
import { DEFAULT_DRILL_CRON, PLAN_PRESETS } from "@/server/backup/schedule/presets";
import { TYPE_CHOICES, TYPE_LABELS } from "./backup-labels";
import backupStyles from "./backup.module.css";
import styles from "./schedules.module.css";

type Plan = RouterOutputs["schedule"]["list"]["plans"][number];
type PlanType = Plan["backup_type"];
type Preview = RouterOutputs["schedule"]["preview"];

/** The list is re-read this often, so a run started by the schedule shows its result without a reload. */
const PLANS_POLL_MS = 10_000;
const PREVIEW_DEBOUNCE_MS = 300;

const PLAN_TYPE_CHOICES = TYPE_CHOICES.filter((c): c is (typeof TYPE_CHOICES)[number] & { value: PlanType } => c.value !== "config_only");

export function SchedulesCard() {
  const utils = trpc.useUtils();
  const list = trpc.schedule.list.useQuery(undefined, { refetchInterval: PLANS_POLL_MS });
  const plans = list.data?.plans;
  // null: closed; "new": adding; a plan: editing it.
  const [editing, setEditing] = useState<Plan | "new" | null>(null);
  const [toDelete, setToDelete] = useState<Plan | null>(null);
  const { pending: running, track: trackRun } = usePendingIds();

  const refresh = () => {
    void utils.schedule.list.invalidate();
    void utils.audit.list.invalidate();
  };

  const setEnabled = trpc.schedule.setEnabled.useMutation({
    onSuccess: (plan) => {
      toast.success(plan.enabled ? `"${plan.name}" is on` : `"${plan.name}" is off`, {
        description: plan.enabled ? "It runs at its next scheduled time." : "It does not run until you switch it on again.",
      });
      refresh();
    },
    onError: (err) => toast.error("The plan was not changed", { description: errorMessage(err) }),
  });
  const runNow = trpc.schedule.runNow.useMutation();
  const remove = trpc.schedule.remove.useMutation({
    onSuccess: () => {
      toast.success("Plan deleted", { description: `${toDelete?.name ?? "The plan"} no longer runs; its backups stay in the list.` });
      setToDelete(null);
      refresh();
    },
  });

  const onRunNow = (plan: Plan) => {
    trackRun(plan.id, runNow.mutateAsync({ id: plan.id }))
      .then((backup) => {
        toast.success(`"${plan.name}" started`, { description: `${backup.filename} is being made; it is verified when done.` });
        void utils.backup.list.invalidate();
        void utils.backup.overview.invalidate();
        refresh();
      })
      .catch((err: unknown) => toast.error(`"${plan.name}" did not start`, { description: errorMessage(err) }));
  };

  const addButton = (
    <Button variant="primary" icon={<PlusIcon size={14} />} onClick={() => setEditing("new")}>
      Add plan
    </Button>
  );

  return (
    <Card
      headingLevel={3}
      title="Schedules"
      description="Backups that run by themselves. Each one is verified after it is written; a failure is recorded here and notified."
      actions={plans && plans.length > 0 ? addButton : undefined}
    >
      {list.isPending ? (
        <div className="loading-block">
          <Spinner /> Loading plans…
        </div>
      ) : list.isError && !plans ? (
        <QueryError title="The plans could not be loaded" error={list.error} onRetry={() => void list.refetch()} />
      ) : !plans || plans.length === 0 ? (
        <EmptyState icon={<ClockIcon size={22} />} title="No backup plans yet" headingLevel={3} action={addButton}>
          <p>
            Add a plan to back up without thinking about it, for example every night at 03:00. Until then, backups are made
            only when someone creates one.
          </p>
        </EmptyState>
      ) : (
        <ul className={styles.planList} aria-label="Backup plans">
          {plans.map((plan) => (
            <PlanRow
              key={plan.id}
              plan={plan}
              running={running.has(plan.id)}
              switching={setEnabled.isPending && setEnabled.variables?.id === plan.id}
              onToggle={() => setEnabled.mutate({ id: plan.id, enabled: !plan.enabled })}
              onRunNow={() => onRunNow(plan)}
              onEdit={() => setEditing(plan)}
              onDelete={() => {
                remove.reset();
                setToDelete(plan);
              }}
            />
          ))}
        </ul>
      )}

      {editing ? (
        <PlanDialog
          plan={editing === "new" ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={(plan, isNew) => {
            toast.success(isNew ? "Plan added" : "Plan saved", { description: `${plan.name}: ${plan.schedule_text}.` });
            setEditing(null);
            refresh();
          }}
        />
      ) : null}

      <ConfirmDialog
        open={toDelete !== null}
        onOpenChange={(open) => {
          if (!open) setToDelete(null);
        }}
        title={`Delete the plan “${toDelete?.name ?? ""}”?`}
        confirmLabel="Delete plan"
        tone="danger"
        busy={remove.isPending}
        onConfirm={() => toDelete && remove.mutate({ id: toDelete.id })}
        extra={
          remove.error ? (
            <Callout tone="danger" title="The plan was not deleted">
              {errorMessage(remove.error)}
            </Callout>
          ) : null
        }
      >
        It stops running. The backups it made stay in the list (and follow the retention rules) until you delete them.
      </ConfirmDialog>
    </Card>
  );
}

function PlanRow({
  plan,
  running,
  switching,
  onToggle,
  onRunNow,
  onEdit,
  onDelete,
}: {
  plan: Plan;
  running: boolean;
  switching: boolean;
  onToggle: () => void;
  onRunNow: () => void;
  onEdit: () => void;
  onDelete: () => void;
}) {
  const headingId = useId();
  const switchId = useId();
  const now = useNow();
  const overdue = plan.next_run_at !== null && Date.parse(plan.next_run_at) < now;
  return (
    <li className={styles.plan} data-testid={`plan-${plan.id}`}>
      <div className={styles.planMain}>
        <div className={styles.planTitle}>
          <h4 id={headingId} className={styles.planName}>
            {plan.name}
          </h4>
          <Badge>{TYPE_LABELS[plan.backup_type]}</Badge>
          {plan.include_config ? <Badge>+ config</Badge> : null}
          {plan.full_every ? <Badge title="Every N-th run is a full backup">full every {plan.full_every}</Badge> : null}
          {!plan.enabled ? <Badge tone="warning">Off</Badge> : null}
        </div>
        <dl className={styles.planFacts}>
          <div>
            <dt>When</dt>
            <dd>
              {plan.schedule_text === "Custom schedule" ? null : <>{plan.schedule_text} · </>}
              <code className="mono">{plan.cron}</code> · {plan.timezone}
            </dd>
          </div>
          <div>
            <dt>Next run</dt>
            <dd data-testid="plan-next-run">
              {!plan.enabled ? (
                "None while the plan is off"
              ) : plan.next_run_at === null ? (
                "None: the schedule has no further date"
              ) : overdue ? (
                <>Due now: waits for the running backup or restore to finish</>
              ) : (
                <DateTime value={plan.next_run_at} relative />
              )}
            </dd>
          </div>
          <div>
            <dt>Last run</dt>
            <dd data-testid="plan-last-result">
              {plan.last_result === null || plan.last_run_at === null ? (
                "Not run yet"
              ) : (
                <>
                  <Badge tone={plan.last_result === "ok" ? "success" : "danger"} dot>
                    {plan.last_result === "ok" ? "Succeeded" : "Failed"}
                  </Badge>{" "}
                  <RelativeTime value={plan.last_run_at} />
                </>
              )}
            </dd>
          </div>
          {plan.drill_cron ? (
            <div>
              <dt>Restore drill</dt>
              <dd>
                <code className="mono">{plan.drill_cron}</code>
              </dd>
            </div>
          ) : null}
        </dl>
        {plan.last_result === "failed" && plan.last_error ? (
          <p className={styles.planError} role="note">
            {plan.last_error}
          </p>
        ) : null}
      </div>
      <div className={styles.planActions}>
        <label className={styles.switch} htmlFor={switchId}>
          <input
            id={switchId}
            type="checkbox"
            role="switch"
            checked={plan.enabled}
            disabled={switching}
            onChange={onToggle}
            aria-describedby={headingId}
          />
          <span>Enabled</span>
        </label>
        <Button size="sm" onClick={onRunNow} loading={running} aria-describedby={headingId}>
          Run now
        </Button>
        <Button size="sm" onClick={onEdit} aria-describedby={headingId}>
          Edit
        </Button>
        <Button size="sm" variant="ghost" icon={<TrashIcon size={14} />} onClick={onDelete} aria-label={`Delete ${plan.name}`} iconOnly />
      </div>
    </li>
  );
}

type PresetId = (typeof PLAN_PRESETS)[number]["id"] | "custom";

interface Draft {
  name: string;
  backupType: PlanType;
  includeConfig: boolean;
  preset: PresetId;
  cron: string;
  timezone: string;
  fullEvery: string;
  drill: boolean;
  drillCron: string;
  enabled: boolean;
}

function browserTimezone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

function presetOf(cron: string): PresetId {
  return PLAN_PRESETS.find((p) => p.cron === cron)?.id ?? "custom";
}

function draftOf(plan: Plan | null): Draft {
  if (!plan) {
    return {
      name: "",
      backupType: "full",
      includeConfig: false,
      preset: "daily",
      cron: "0 3 * * *",
      timezone: browserTimezone(),
      fullEvery: "",
      drill: true,
      drillCron: DEFAULT_DRILL_CRON,
      enabled: true,
    };
  }
  return {
    name: plan.name,
    backupType: plan.backup_type,
    includeConfig: plan.include_config,
    preset: presetOf(plan.cron),
    cron: plan.cron,
    timezone: plan.timezone,
    fullEvery: plan.full_every === null ? "" : String(plan.full_every),
    drill: plan.drill_cron !== null,
    drillCron: plan.drill_cron ?? DEFAULT_DRILL_CRON,
    enabled: plan.enabled,
  };
}

/** The time zones this browser knows, with UTC first and the plan's own (if the list lacks it). */
function timezoneOptions(current: string): string[] {
  const known = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return [...new Set(["UTC", current, ...known])];
}

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setDebounced(value), ms);
    return () => window.clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

function PlanDialog({ plan, onClose, onSaved }: { plan: Plan | null; onClose: () => void; onSaved: (plan: Plan, isNew: boolean) => void }) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(plan));
  const formId = useId();
  const create = trpc.schedule.create.useMutation({ onSuccess: (saved) => onSaved(saved, true) });
  const update = trpc.schedule.update.useMutation({ onSuccess: (saved) => onSaved(saved, false) });
  const save = plan ? update : create;
  const zones = useMemo(() => timezoneOptions(draft.timezone), [draft.timezone]);

  const schedule = useDebounced({ cron: draft.cron, timezone: draft.timezone }, PREVIEW_DEBOUNCE_MS);
  const preview = trpc.schedule.preview.useQuery(schedule, { enabled: schedule.cron.trim() !== "", staleTime: 60_000 });

  const edit = (patch: Partial<Draft>) => {
    save.reset();
    setDraft((d) => ({ ...d, ...patch }));
  };

  const fullEveryNumber = draft.fullEvery.trim() === "" ? null : Number(draft.fullEvery);
  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const values = {
      name: draft.name,
      backup_type: draft.backupType,
      include_config: draft.includeConfig,
      cron: draft.cron,
      timezone: draft.timezone,
      full_every: draft.backupType === "incremental" ? fullEveryNumber : null,
      drill_cron: draft.drill ? draft.drillCron : null,
      enabled: draft.enabled,
    };
    if (plan) update.mutate({ id: plan.id, ...values });
    else create.mutate(values);
  };

  const errorFor = (field: string) => fieldError(save.error, field);
  const fieldNames = ["name", "backup_type", "cron", "timezone", "full_every", "drill_cron"];
  const otherError = save.error && !fieldNames.some((f) => errorFor(f)) ? errorMessage(save.error) : null;

  return (
    <Dialog
      open
      onOpenChange={(open) => {
        if (!open) onClose();
      }}
      size="md"
      title={plan ? `Edit “${plan.name}”` : "Add backup plan"}
      description="What to back up and when. The next run times below are what the server will do."
      busy={save.isPending}
      footer={
        <>
          <Button onClick={onClose} disabled={save.isPending}>
            Cancel
          </Button>
          <Button type="submit" form={formId} variant="primary" loading={save.isPending}>
            {plan ? "Save plan" : "Add plan"}
          </Button>
        </>
      }
    >
      <form id={formId} onSubmit={onSubmit} noValidate className="stack-sm" style={{ gap: "var(--space-4)" }}>
        <TextField
          label="Name"
          name="name"
          value={draft.name}
          maxLength={80}
          required
          placeholder="Nightly"
          onChange={(e) => edit({ name: e.target.value })}
          error={errorFor("name")}
        />

        <fieldset className={backupStyles.choices}>
          <legend className="field-label">What to back up</legend>
          {PLAN_TYPE_CHOICES.map((choice) => (
            <label key={choice.value} className={backupStyles.choice}>
              <input
                type="radio"
                name="backup_type"
                value={choice.value}
                checked={draft.backupType === choice.value}
                onChange={() => edit({ backupType: choice.value })}
              />
              <span className={backupStyles.choiceText}>
                <span className={backupStyles.choiceLabel}>{choice.label}</span>
                <span className={backupStyles.choiceDescription}>{choice.description}</span>
              </span>
            </label>
          ))}
        </fieldset>

        {draft.backupType === "incremental" ? (
          <TextField
            label="Full backup every (runs)"
            name="full_every"
            type="number"
            inputMode="numeric"
            min={2}
            max={100}
            step={1}
            value={draft.fullEvery}
            placeholder="never"
            onChange={(e) => edit({ fullEvery: e.target.value })}
            hint="Every N-th run is a full backup, so a restore never needs a long chain of incrementals. Empty: only the first."
            error={errorFor("full_every")}
          />
        ) : null}

        <label className={backupStyles.checkbox}>
          <input type="checkbox" checked={draft.includeConfig} onChange={(e) => edit({ includeConfig: e.target.checked })} />
          <span className={backupStyles.choiceText}>
            <span className={backupStyles.choiceLabel}>Include config folder</span>
            <span className={backupStyles.choiceDescription}>The server&apos;s configuration files, next to the data.</span>
          </span>
        </label>

        <fieldset className={backupStyles.choices}>
          <legend className="field-label">When</legend>
          <div className={styles.presets}>
            {[...PLAN_PRESETS, { id: "custom" as const, label: "Custom cron", cron: null }].map((preset) => (
              <label key={preset.id} className={backupStyles.choice}>
                <input
                  type="radio"
                  name="preset"
                  value={preset.id}
                  checked={draft.preset === preset.id}
                  onChange={() => edit(preset.cron ? { preset: preset.id, cron: preset.cron } : { preset: "custom" })}
                />
                <span className={backupStyles.choiceLabel}>{preset.label}</span>
              </label>
            ))}
          </div>
        </fieldset>

        {draft.preset === "custom" ? (
          <TextField
            label="Cron expression"
            name="cron"
            value={draft.cron}
            spellCheck={false}
            autoComplete="off"
            inputClassName="mono"
            onChange={(e) => edit({ cron: e.target.value })}
            hint={
              <>
                Five fields: minute hour day month weekday. <code>0 */6 * * *</code> is every 6 hours, <code>30 2 * * 1-5</code>{" "}
                weekdays at 02:30.
              </>
            }
            error={errorFor("cron")}
          />
        ) : null}

        <SelectField label="Time zone" name="timezone" value={draft.timezone} onChange={(e) => edit({ timezone: e.target.value })} error={errorFor("timezone")}>
          {zones.map((zone) => (
            <option key={zone} value={zone}>
              {zone}
            </option>
          ))}
        </SelectField>

        <NextRuns data={preview.data} error={preview.error} timezone={schedule.timezone} empty={schedule.cron.trim() === ""} />

        <label className={backupStyles.checkbox}>
          <input type="checkbox" checked={draft.drill} onChange={(e) => edit({ drill: e.target.checked })} />
          <span className={backupStyles.choiceText}>
            <span className={backupStyles.choiceLabel}>Test restores (restore drill)</span>
            <span className={backupStyles.choiceDescription}>
              Restores the newest backup into a sandbox on a schedule and checks it, never over live data.
            </span>
          </span>
        </label>
        {draft.drill ? (
          <TextField
            label="Drill schedule (cron)"
            name="drill_cron"
            value={draft.drillCron}
            spellCheck={false}
            autoComplete="off"
            inputClassName="mono"
            onChange={(e) => edit({ drillCron: e.target.value })}
            hint={<>Same time zone. Default <code>{DEFAULT_DRILL_CRON}</code>: Sundays at 04:00.</>}
            error={errorFor("drill_cron")}
          />
        ) : null}

        <label className={backupStyles.checkbox}>
          <input type="checkbox" checked={draft.enabled} onChange={(e) => edit({ enabled: e.target.checked })} />
          <span className={backupStyles.choiceText}>
            <span className={backupStyles.choiceLabel}>On</span>
            <span className={backupStyles.choiceDescription}>Off: the plan is kept but does not run.</span>
          </span>
        </label>

        {otherError ? (
          <Callout tone="danger" title="The plan was not saved">
            {otherError}
          </Callout>
        ) : null}
      </form>
    </Dialog>
  );
}

/** A run time as the plan's clock shows it ("Sun, 5 Jan 2030, 03:00"): the zone the cron is read in. */
function inZone(iso: string, timezone: string): string {
  try {
    return new Intl.DateTimeFormat(undefined, { timeZone: timezone, weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
  } catch {
    return iso;
  }
}

function NextRuns({ data, error, timezone, empty }: { data: Preview | undefined; error: unknown; timezone: string; empty: boolean }) {
  return (
    <div className={styles.nextRuns} aria-live="polite" data-testid="plan-preview">
      <p className="field-label">Next runs ({timezone})</p>
      {empty ? (
        <p className={styles.muted}>Enter a cron expression to see when the plan runs.</p>
      ) : error ? (
        <p className="field-error">{errorMessage(error)}</p>
      ) : !data ? (
        <p className={styles.muted}>
          <Spinner size={12} /> Working out the next runs…
        </p>
      ) : data.error ? (
        <p className="field-error">{data.error}</p>
      ) : (
        <>
          {data.schedule_text && data.schedule_text !== "Custom schedule" ? (
            <p className={styles.muted}>{data.schedule_text}</p>
          ) : null}
          <ol className={styles.runList}>
            {data.runs.map((run) => (
              <li key={run}>
                <time dateTime={run}>{inZone(run, timezone)}</time>
                <span className={styles.muted}>
                  {" · "}
                  <RelativeTime value={run} />
                </span>
              </li>
            ))}
          </ol>
        </>
      )}
    </div>
  );
}
