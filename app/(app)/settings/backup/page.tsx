/**
 * Settings → Backup: admins only. The backup list and the overview (free space, what is
 * running, retention) are fetched here through the server-side caller, so the tab paints
 * with data; everything interactive lives in ./_components.
 */
import type { Metadata } from "next";
import { AdminsOnly } from "@/app/_components/admins-only";
import { requireAdmin } from "@/app/_lib/session";
import { api, HydrateClient } from "@/server/api/server-caller";
import { backupAuditInput, NO_BACKUP_AUDIT_FILTERS } from "./_components/backup-audit-input";
import { BackupTab } from "./_components/backup-tab";

export const metadata: Metadata = { title: "Backup" };

export default async function BackupSettingsPage() {
  const admin = await requireAdmin("/settings/backup");
  if (!admin) return <AdminsOnly what="The Backup tab" headingLevel={2} />;
  await Promise.all([
    api.backup.list.prefetch(),
    api.backup.overview.prefetch(),
    api.audit.list.prefetchInfinite(backupAuditInput(NO_BACKUP_AUDIT_FILTERS)),
  ]);
  return (
    <HydrateClient>
      <BackupTab />
    </HydrateClient>
  );
}
