"use client";
/**
 * The backup list's offsite copy states: one query for every backup (a few rows each),
 * polled every 2 s while a copy is queued or uploading and every 15 s otherwise (a backup
 * made by the CLI or a plan is queued by the web server's copier, not by this tab), and
 * Retry for a failed copy.
 */
import { useMemo } from "react";
import { toast } from "@/app/_components/toaster";
import { usePendingIds } from "@/app/_components/use-pending-ids";
import { trpc } from "@/app/_trpc/client";
import { errorMessage } from "@/app/_trpc/errors";
import type { CopyState } from "./backup-table";

export function useOffsiteCopies() {
  const utils = trpc.useUtils();
  const copies = trpc.offsite.copies.useQuery(undefined, {
    refetchInterval: (query) => (query.state.data?.some((c) => c.status === "queued" || c.status === "uploading") ? 2000 : 15_000),
  });
  const copyNow = trpc.offsite.copyNow.useMutation();
  const { pending: retrying, track } = usePendingIds();
  const copiesByBackup = useMemo(() => {
    const map = new Map<number, CopyState[]>();
    for (const c of copies.data ?? []) map.set(c.backup_id, [...(map.get(c.backup_id) ?? []), c]);
    return map;
  }, [copies.data]);
  const onRetryCopy = (c: CopyState) => {
    track(c.backup_id, copyNow.mutateAsync({ backup_id: c.backup_id, target_id: c.target_id }))
      .then(() => toast.success("Copy queued again", { description: `To ${c.target_name}; it starts within seconds.` }))
      .catch((err: unknown) => toast.error("The copy was not queued", { description: errorMessage(err) }))
      .finally(() => {
        void utils.offsite.copies.invalidate();
        void utils.audit.list.invalidate();
      });
  };
  return { copiesByBackup, onRetryCopy, retrying };
}
