/** Settings → Backup: admins only. The tab's content lives in ./_components/backup-tab.tsx. */
import type { Metadata } from "next";
import { AdminsOnly } from "@/app/_components/admins-only";
import { requireAdmin } from "@/app/_lib/session";
import { BackupTab } from "./_components/backup-tab";

export const metadata: Metadata = { title: "Backup" };

export default async function BackupSettingsPage() {
  const admin = await requireAdmin("/settings/backup");
  if (!admin) return <AdminsOnly what="The Backup tab" headingLevel={2} />;
  return <BackupTab />;
}
