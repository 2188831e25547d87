"use client";
/**
 * Live progress of the backups that are running. Only running rows are polled (one small
 * `backup.progress` query each, every 700 ms), never the whole list, so a long list stays
 * cheap. When a backup finishes the list, the overview and the audit log are refreshed
 * and a toast says how it ended: completed, cancelled (by this admin) or failed.
 */
import { useEffect, useMemo, useRef } from "react";
import { toast } from "@/app/_components/toaster";
import { trpc, type RouterOutputs } from "@/app/_trpc/client";
import type { BackupRecord } from "./backup-labels";

export const POLL_MS = 700;

type ProgressResult = RouterOutputs["backup"]["progress"];

export interface RunningBackups {
  /** The latest poll of each running backup, by id. */
  byId: Map<number, ProgressResult>;
  /** Whether any backup in the list is still running. */
  any: boolean;
  /** Remember that this admin cancelled the backup, so its end reads "cancelled", not "failed". */
  markCancelled: (id: number) => void;
}

export function useRunningBackups(backups: BackupRecord[] | undefined): RunningBackups {
  const utils = trpc.useUtils();
  const runningIds = useMemo(
    () => (backups ?? []).filter((b) => b.status === "in_progress").map((b) => b.id),
    [backups],
  );
  const queries = trpc.useQueries((t) =>
    runningIds.map((id) => t.backup.progress({ id }, { refetchInterval: POLL_MS, staleTime: 0, retry: false })),
  );
  const announced = useRef(new Set<number>());
  const cancelled = useRef(new Set<number>());
  // Ids seen running in the list: when the list itself shows one finished (it was re-read
  // because the catalog changed) before its poll did, the end is still announced once.
  const seenRunning = useRef(new Set<number>());

  const byId = new Map<number, ProgressResult>();
  for (const q of queries) if (q.data) byId.set(q.data.id, q.data);

  /** Says once how a backup ended; returns whether it said anything. */
  const announce = (id: number, end: Pick<ProgressResult, "status" | "error_message" | "error_code">): boolean => {
    if (announced.current.has(id) || end.status === "in_progress") return false;
    announced.current.add(id);
    const row = backups?.find((b) => b.id === id);
    const name = row?.filename ?? "The backup";
    const what = row?.origin === "safety" ? "Safety backup" : "Backup";
    if (end.status === "completed") {
      toast.success(`${what} completed`, { description: name });
    } else if (cancelled.current.has(id) || end.error_code === "BACKUP_CANCELLED") {
      toast.info(`${what} cancelled`, { description: name });
    } else {
      toast.error(`${what} failed`, { description: end.error_message ?? name });
    }
    return true;
  };

  // One string that changes whenever a poll's outcome does: the effect below runs on that.
  const outcomeKey = queries.map((q, i) => `${runningIds[i]}:${q.data?.status ?? ""}:${q.isError ? "error" : ""}`).join(",");

  useEffect(() => {
    let changed = false;
    queries.forEach((q, index) => {
      const id = runningIds[index];
      if (id === undefined || announced.current.has(id)) return;
      if (q.isError) {
        // Gone (deleted elsewhere) or unreadable: the list will say what it is now.
        announced.current.add(id);
        changed = true;
        return;
      }
      if (q.data && announce(id, q.data)) changed = true;
    });
    if (changed) {
      void utils.backup.list.invalidate();
      void utils.backup.overview.invalidate();
      void utils.audit.list.invalidate();
    }
    // outcomeKey stands for `queries` (a new array on every render).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [outcomeKey]);

  useEffect(() => {
    for (const b of backups ?? []) {
      if (b.status === "in_progress") seenRunning.current.add(b.id);
      else if (seenRunning.current.delete(b.id)) announce(b.id, b);
    }
    // announce reads refs and the same `backups`.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [backups]);

  return {
    byId,
    any: runningIds.length > 0,
    markCancelled: (id) => void cancelled.current.add(id),
  };
}
