"use client";
/**
 * The first line of the Backup tab, read in one second: "Protected: last backup 3 h ago,
 * verified; next in 21 h", or in red "No successful backup for 2 days". It is the same
 * health the monitoring endpoint answers (notify.health → server/backup/health.ts), so
 * the tab, Prometheus and the alerts never disagree. Re-read whenever the catalog changes
 * (a backup finished, was deleted, verified) and every 30 s for the ages in it.
 */
import { useEffect } from "react";
import { Callout, type CalloutTone } from "@/app/_components/callout";
import { trpc, type RouterOutputs } from "@/app/_trpc/client";

type Health = RouterOutputs["notify"]["health"];

const TONES: Record<Health["status"], CalloutTone> = { ok: "success", warning: "warning", critical: "danger" };

export function ProtectionStatus({ catalogVersion }: { catalogVersion: string | undefined }) {
  const utils = trpc.useUtils();
  const health = trpc.notify.health.useQuery(undefined, { refetchInterval: 30_000 });
  useEffect(() => {
    if (catalogVersion !== undefined) void utils.notify.health.invalidate();
  }, [catalogVersion, utils]);
  if (!health.data) return null;
  const { status, summary } = health.data;
  return (
    <div data-testid="protection-status" data-status={status}>
      <Callout tone={TONES[status]} title={summary} />
    </div>
  );
}
