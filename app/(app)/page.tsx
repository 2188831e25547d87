/** Home: a welcome, the places to go, and (for admins) the latest activity. */
import Link from "next/link";
import type { Metadata } from "next";
import { AuditResult, AuditSentence } from "@/app/_components/audit-entry";
import { ButtonLink } from "@/app/_components/button";
import { DateTime } from "@/app/_components/date-time";
import {
  ArchiveIcon,
  ArrowRightIcon,
  AuditIcon,
  KeyIcon,
  SettingsIcon,
  UserIcon,
} from "@/app/_components/icons";
import { LastFilesBackup } from "@/app/_components/last-backup";
import { Card, PageHeader } from "@/app/_components/layout-parts";
import { requireUser } from "@/app/_lib/session";
import { formatIp } from "@/lib/format";
import { getServerCaller } from "@/server/api/server-caller";
import type { ReactNode } from "react";

export const metadata: Metadata = { title: "Home" };

function Tile({ href, icon, title, children }: { href: string; icon: ReactNode; title: string; children: ReactNode }) {
  return (
    <Link href={href} className="tile">
      <span className="tile-icon" aria-hidden="true">
        {icon}
      </span>
      <span className="tile-title">
        {title}
        <ArrowRightIcon size={14} />
      </span>
      <span className="tile-text">{children}</span>
    </Link>
  );
}

async function RecentActivity() {
  const caller = await getServerCaller();
  const { entries } = await caller.audit.list({ limit: 5 });
  return (
    <Card
      title="Recent activity"
      description="The latest entries of the audit log."
      actions={
        <ButtonLink href="/admin/audit" size="sm" variant="secondary">
          View audit log
        </ButtonLink>
      }
    >
      {entries.length === 0 ? (
        <p className="muted">Nothing has happened yet.</p>
      ) : (
        <ul className="activity-list" data-testid="recent-activity">
          {entries.map((entry) => (
            <li key={entry.id} className="activity-item">
              <div className="activity-main">
                <AuditSentence entry={entry} />
                <span className="activity-meta">
                  {entry.success ? null : `${entry.actor_name} · `}
                  <DateTime value={entry.created_at} relative />
                  {entry.ip ? ` · ${formatIp(entry.ip)}` : null}
                </span>
              </div>
              <AuditResult entry={entry} />
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

/** A user's one line about backups (admins have the Backup tab). */
async function YourBackups() {
  const caller = await getServerCaller();
  const { last_files_backup_at } = await caller.account.lastFilesBackup();
  return (
    <Card title={<span className="row"><ArchiveIcon size={16} /> Backups</span>} headingLevel={2}>
      <LastFilesBackup at={last_files_backup_at} />
    </Card>
  );
}

export default async function HomePage() {
  const user = await requireUser("/");
  const isAdmin = user.role === "admin";
  return (
    <div className="stack">
      <PageHeader
        title={`Welcome, ${user.username}`}
        description={
          isAdmin
            ? "Manage backups of this NAS, API tokens for scripts, and review what happened in the audit log."
            : "You are signed in to this BaluHost. Backups, API tokens and the audit log are managed by administrators."
        }
        actions={
          isAdmin ? (
            <ButtonLink href="/settings/backup" variant="primary" icon={<ArchiveIcon />}>
              Go to backups
            </ButtonLink>
          ) : undefined
        }
      />
      <div className="card-grid">
        {isAdmin ? (
          <Tile href="/settings/backup" icon={<ArchiveIcon size={18} />} title="Settings → Backup">
            Create, download and restore backups of the database, user files and config.
          </Tile>
        ) : null}
        {isAdmin ? (
          <Tile href="/admin/audit" icon={<AuditIcon size={18} />} title="Audit log">
            Sign-ins, token changes and backup operations: who did what, and when.
          </Tile>
        ) : null}
        {isAdmin ? (
          <Tile href="/admin/tokens" icon={<KeyIcon size={18} />} title="API tokens">
            Let scripts and other machines use the API without a password.
          </Tile>
        ) : null}
        <Tile href="/settings/general" icon={<SettingsIcon size={18} />} title="Settings">
          {isAdmin
            ? "See where BaluHost keeps its data and how long backups are kept."
            : "See your account, when your files were last backed up and how long backups are kept."}
        </Tile>
        {!isAdmin ? (
          <Card title={<span className="row"><UserIcon size={16} /> Your account</span>} headingLevel={2}>
            <p className="muted">
              Signed in as <strong>{user.username}</strong> with the role <strong>User</strong>.
            </p>
          </Card>
        ) : null}
        {!isAdmin ? <YourBackups /> : null}
      </div>
      {isAdmin ? <RecentActivity /> : null}
    </div>
  );
}
