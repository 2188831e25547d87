"use client";
/**
 * The backup list's offsite copy states: one query for every backup (a few rows each),
 * polled every 2 s while a copy is queued or uploading and every 15 s otherwise (a backup
 * made by the CLI or a plan is queued by the web server's copier, not by this tab), Retry
 * for a failed copy, and Copy offsite for a backup that has none (made before the target was
 * added, uploaded or imported).
 */
import { useMemo } from "react";
import { toast } from "@/app/_components/toaster";
import { usePendingIds } from "@/app/_components/use-pending-ids";
import { trpc } from "@/app/_trpc/client";
import { errorMessage } from "@/app/_trpc/errors";
import type { BackupRecord } from "./backup-labels";
import type { CopyState } from "./backup-table";

export function useOffsiteCopies() {
  const utils = trpc.useUtils();
  const copies = trpc.offsite.copies.useQuery(undefined, {
    refetchInterval: (query) => (query.state.data?.some((c) => c.status === "queued" || c.status === "uploading") ? 2000 : 15_000),
  });
  const copyNow = trpc.offsite.copyNow.useMutation();
  const targets = trpc.offsite.targets.useQuery();
  const hasEnabledTarget = targets.data?.some((t) => t.enabled) ?? false;
  const { pending: retrying, track } = usePendingIds();
  const copiesByBackup = useMemo(() => {
    const map = new Map<number, CopyState[]>();
    for (const c of copies.data ?? []) map.set(c.backup_id, [...(map.get(c.backup_id) ?? []), c]);
    return map;
  }, [copies.data]);
  const request = (backupId: number, targetId: number | undefined, done: string) => {
    track(backupId, copyNow.mutateAsync({ backup_id: backupId, target_id: targetId }))
      .then(() => toast.success(done, { description: "It starts within seconds." }))
      .catch((err: unknown) => toast.error("The copy was not queued", { description: errorMessage(err) }))
      .finally(() => {
        void utils.offsite.copies.invalidate();
        void utils.audit.list.invalidate();
      });
  };
  const onRetryCopy = (c: CopyState) => request(c.backup_id, c.target_id, `Copy to ${c.target_name} queued again`);
  const onCopyOffsite = hasEnabledTarget ? (b: BackupRecord) => request(b.id, undefined, `${b.filename} queued for every enabled target`) : null;
  return { copiesByBackup, onRetryCopy, onCopyOffsite, retrying };
}
