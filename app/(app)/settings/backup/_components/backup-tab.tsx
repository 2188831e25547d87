"use client";
/** The Backup tab of Settings (placeholder until the backup UI lands). */
import { Card } from "@/app/_components/layout-parts";

export function BackupTab() {
  return (
    <Card>
      <h2 className="section-title">Backups</h2>
      <p className="muted">
        Create, download and restore backups of the database, user files and config of this NAS.
      </p>
    </Card>
  );
}
