"use client";
/**
 * Restore drills in the Backup tab: one line with the last drill's result ("Last drill:
 * passed, 2 days ago, restore took 41 s", or the failing check in red), a "Run drill now"
 * button that follows the drill it starts (step, progress bar), and the recent drills in a
 * small disclosure. A drill restores a backup into a sandbox and checks it; live data is
 * never touched. `drill.last` is polled every second while a drill runs (started here, by
 * the CLI or by a plan's schedule), and slowly otherwise.
 */
import { useEffect, useRef, useState } from "react";
import { Badge } from "@/app/_components/badge";
import { BreakableText } from "@/app/_components/breakable-text";
import { Button } from "@/app/_components/button";
import { DateTime, RelativeTime } from "@/app/_components/date-time";
import { Card } from "@/app/_components/layout-parts";
import { QueryError } from "@/app/_components/query-error";
import { Spinner } from "@/app/_components/spinner";
import { toast } from "@/app/_components/toaster";
import { trpc, type RouterOutputs } from "@/app/_trpc/client";
import { errorMessage } from "@/app/_trpc/errors";
import { formatBytes, formatDuration, pluralize } from "@/lib/format";
import styles from "./backup.module.css";
import { ProgressBar } from "./progress-bar";

type Drill = NonNullable<RouterOutputs["drill"]["last"]>;

const RUNNING_POLL_MS = 1000;
const IDLE_POLL_MS = 15_000;

/** The checks' names (server/backup/drill/drill.ts DRILL_CHECKS), as the admin reads them. */
const CHECK_LABELS: Record<string, string> = {
  archive: "archive readable, hashes match",
  contents: "restored files match the manifest",
  database_integrity: "database integrity",
  migrations: "database migrates to this version",
};

const checkLabel = (name: string) => CHECK_LABELS[name] ?? name;

function failedCheck(drill: Drill) {
  return drill.checks.find((c) => !c.ok) ?? null;
}

function LastDrillLine({ drill }: { drill: Drill | null }) {
  if (!drill) {
    return (
      <p className={styles.drillLine} data-testid="drill-status">
        No restore drill yet — run one to prove your backups restore.
      </p>
    );
  }
  if (drill.status === "running") {
    const p = drill.progress;
    const percent = p && p.bytes_total > 0 ? p.percent : null;
    return (
      <div className={styles.drillRunning} data-testid="drill-status" aria-live="polite">
        <div className={styles.progressHead}>
          <span className={styles.progressPhase}>
            <Spinner size={14} /> Restore drill of <BreakableText text={drill.backup_filename ?? "a backup"} />: {p ? p.step : "running"}
          </span>
          {percent !== null ? <span className={styles.progressPercent}>{Math.floor(percent)}%</span> : null}
        </div>
        <ProgressBar value={percent} label="Restore drill progress" />
        <span className={styles.progressMeta}>
          {p && percent !== null ? `${formatBytes(p.bytes_done)} of ${formatBytes(p.bytes_total)} · ` : null}
          started <RelativeTime value={drill.started_at} />
          {p ? null : " (by another process; the result appears here when it ends)"}
        </span>
      </div>
    );
  }
  const when = <RelativeTime value={drill.finished_at ?? drill.started_at} />;
  const took = drill.duration_ms === null ? null : `restore took ${formatDuration(drill.duration_ms)}`;
  if (drill.status === "passed") {
    return (
      <p className={styles.drillLine} data-testid="drill-status">
        Last drill: <strong className={styles.drillPassed}>passed</strong>, {when}
        {took ? `, ${took}` : null}
        <span className="cell-sub">
          <BreakableText text={drill.backup_filename ?? ""} />
          {drill.file_count !== null ? ` · ${pluralize(drill.file_count, "file")}, ${formatBytes(drill.bytes ?? 0)} restored and checked` : null}
        </span>
      </p>
    );
  }
  const check = failedCheck(drill);
  return (
    <p className={`${styles.drillLine} ${styles.drillFailed}`} data-testid="drill-status">
      Last drill: <strong>failed</strong>, {when}
      {check ? ` — ${checkLabel(check.name)}` : null}
      <span className="cell-sub">
        <BreakableText text={drill.backup_filename ?? ""} />: <span className="error-text">{check?.detail ?? drill.error_message}</span>
      </span>
    </p>
  );
}

function RecentDrills() {
  const [open, setOpen] = useState(false);
  const list = trpc.drill.list.useQuery({ limit: 10 }, { enabled: open });
  return (
    <details className="detail-disclosure" onToggle={(e) => setOpen(e.currentTarget.open)} data-testid="recent-drills">
      <summary>Recent drills</summary>
      {!open ? null : list.isPending ? (
        <div className="loading-block">
          <Spinner /> Loading drills…
        </div>
      ) : list.isError ? (
        <QueryError title="The drills could not be loaded" error={list.error} onRetry={() => void list.refetch()} />
      ) : list.data.length === 0 ? (
        <p className="muted">None yet.</p>
      ) : (
        <div className="table-wrap">
          <table className={`table ${styles.drillTable}`}>
            <caption className="visually-hidden">Recent restore drills, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Backup</th>
                <th scope="col">Result</th>
                <th scope="col">Restore took</th>
                <th scope="col">By</th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((d) => (
                <tr key={d.id}>
                  <td>
                    <DateTime value={d.started_at} />
                  </td>
                  <td>
                    <BreakableText text={d.backup_filename ?? "–"} />
                  </td>
                  <td>
                    <Badge tone={d.status === "passed" ? "success" : d.status === "failed" ? "danger" : "accent"} dot>
                      {d.status === "passed" ? "Passed" : d.status === "failed" ? "Failed" : "Running"}
                    </Badge>
                    {d.status === "failed" ? <span className="cell-sub error-text">{failedCheck(d) ? checkLabel(failedCheck(d)!.name) : d.error_message}</span> : null}
                  </td>
                  <td>{d.duration_ms === null ? "–" : formatDuration(d.duration_ms)}</td>
                  <td>{d.actor_name}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </details>
  );
}

export function DrillStatus() {
  const utils = trpc.useUtils();
  const last = trpc.drill.last.useQuery(undefined, {
    refetchInterval: (q) => (q.state.data?.status === "running" ? RUNNING_POLL_MS : IDLE_POLL_MS),
  });
  const run = trpc.drill.run.useMutation({
    onSuccess: (started) => utils.drill.last.setData(undefined, started),
    onError: (err) => toast.error("The restore drill did not start", { description: errorMessage(err) }),
  });
  const drill = last.data ?? null;
  const running = drill?.status === "running";

  // When a drill ends, say how it went and refresh what it may have changed (a damaged mark, the audit log).
  const seen = useRef<{ id: number; status: string } | null>(null);
  useEffect(() => {
    if (!drill) return;
    const before = seen.current;
    seen.current = { id: drill.id, status: drill.status };
    if (before?.id !== drill.id || before.status !== "running" || drill.status === "running") return;
    void utils.drill.list.invalidate();
    void utils.backup.list.invalidate();
    void utils.audit.list.invalidate();
    if (drill.status === "passed") toast.success("Restore drill passed", { description: `${drill.backup_filename} restores.` });
    else toast.error("Restore drill failed", { description: drill.error_message ?? drill.backup_filename ?? undefined });
  }, [drill, utils]);

  return (
    <Card
      headingLevel={3}
      title="Restore drills"
      description="A drill restores a backup into a sandbox beside the data and checks every file, the database and its migrations. Live data is never touched."
      actions={
        <Button onClick={() => run.mutate({})} loading={run.isPending || running} disabled={last.isPending} data-testid="run-drill">
          Run drill now
        </Button>
      }
    >
      {last.isPending ? (
        <div className="loading-block">
          <Spinner /> Loading the last drill…
        </div>
      ) : last.isError && !drill ? (
        <QueryError title="The last drill could not be loaded" error={last.error} onRetry={() => void last.refetch()} />
      ) : (
        <LastDrillLine drill={drill} />
      )}
      <RecentDrills />
    </Card>
  );
}
