/**
 * Settings → General: read-only facts about this installation. Values come from the
 * environment (server/config.ts), retention as in effect (a value saved in Settings → Backup
 * wins over the environment); secrets (session secret, admin password) are never
 * shown. Everyone sees when the files were last backed up; where a value comes from
 * (variable names, the Backup tab) and the server's folder paths only admins.
 */
import type { Metadata } from "next";
import type { ReactNode } from "react";
import { Badge } from "@/app/_components/badge";
import { Callout } from "@/app/_components/callout";
import { pluralize } from "@/lib/format";
import { LastFilesBackup } from "@/app/_components/last-backup";
import { Card } from "@/app/_components/layout-parts";
import { requireUser } from "@/app/_lib/session";
import { getDb } from "@/db/client";
import { getServerCaller } from "@/server/api/server-caller";
import { getRetentionSettings, type RetentionSource } from "@/server/backup/settings";
import { getConfig } from "@/server/config";

export const metadata: Metadata = { title: "General settings" };

function Row({ label, hint, children }: { label: string; hint?: ReactNode; children: ReactNode }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd>
        {children}
        {hint ? <span className="details-hint">{hint}</span> : null}
      </dd>
    </div>
  );
}

/** Where a retention value in effect comes from: saved in the Backup tab, the environment, or the default. */
function retentionHint(source: RetentionSource, variable?: string): ReactNode {
  if (source === "settings") {
    return variable ? <>Saved in Settings → Backup (overrides <code>{variable}</code>)</> : <>Saved in Settings → Backup</>;
  }
  if (source === "environment" && variable) return <>From the environment variable <code>{variable}</code></>;
  return variable ? <>Default; change it in Settings → Backup or with <code>{variable}</code></> : <>Default; change it in Settings → Backup</>;
}

const GFS_ROWS = [
  { rule: "keepDaily", label: "Also keep daily", unit: "day" },
  { rule: "keepWeekly", label: "Also keep weekly", unit: "week" },
  { rule: "keepMonthly", label: "Also keep monthly", unit: "month" },
] as const;

export default async function GeneralSettingsPage() {
  const user = await requireUser("/settings/general");
  const config = getConfig();
  const retention = getRetentionSettings(getDb(), config);
  const isAdmin = user.role === "admin";
  const { last_files_backup_at } = await (await getServerCaller()).account.lastFilesBackup();
  return (
    <div className="stack">
      <Card title="Your account">
        <dl className="details">
          <Row label="Username">{user.username}</Row>
          <Row label="Role">
            <Badge tone={isAdmin ? "accent" : "neutral"}>{isAdmin ? "Admin" : "User"}</Badge>
          </Row>
        </dl>
      </Card>

      <Card title="Backups" description="Old backups are removed automatically; a backup is kept while any rule below keeps it.">
        <div className="stack-sm">
          <LastFilesBackup at={last_files_backup_at} />
          <dl className="details">
            <Row label="Keep backups for" hint={isAdmin ? retentionHint(retention.sources.retentionDays, "NAS_BACKUP_RETENTION_DAYS") : undefined}>
              {pluralize(retention.retentionDays, "day")}
            </Row>
            <Row label="Keep at most" hint={isAdmin ? retentionHint(retention.sources.maxCount, "NAS_BACKUP_MAX_COUNT") : undefined}>
              {pluralize(retention.maxCount, "backup")}
            </Row>
            {GFS_ROWS.map(({ rule, label, unit }) => (
              <Row key={rule} label={label} hint={isAdmin ? retentionHint(retention.sources[rule]) : undefined}>
                {retention[rule] > 0 ? `the newest backup of each of the last ${pluralize(retention[rule], unit)}` : "off"}
              </Row>
            ))}
          </dl>
        </div>
      </Card>

      {isAdmin ? (
        <Card title="Storage" description="Where this BaluHost keeps its data on the server.">
          <dl className="details">
            <Row label="Database" hint={<>Set with <code>NAS_DATABASE_PATH</code></>}>
              <code>{config.databasePath}</code>
            </Row>
            <Row label="User files" hint={<>Set with <code>NAS_STORAGE_PATH</code></>}>
              <code>{config.storagePath}</code>
            </Row>
            <Row label="Config" hint={<>Set with <code>NAS_CONFIG_PATH</code></>}>
              <code>{config.configPath}</code>
            </Row>
            <Row label="Backups" hint={<>Set with <code>NAS_BACKUP_PATH</code></>}>
              <code>{config.backupPath}</code>
            </Row>
          </dl>
        </Card>
      ) : null}

      {isAdmin ? (
        <Callout tone="info" title="Where these values come from">
          Retention is changed in Settings → Backup (a saved value wins over its environment variable). The folders come
          from the server&apos;s environment: to change one, set the variable and restart BaluHost.
        </Callout>
      ) : (
        <Callout tone="info" title="Read-only">
          Backups and how long they are kept are managed by an administrator.
        </Callout>
      )}
    </div>
  );
}
