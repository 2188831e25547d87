/**
 * Download links: what lets a plain link download a backup. `createDownloadLink` issues a
 * ticket for one completed backup (REST `POST /api/backups/{id}/download-link` and tRPC
 * `backup.downloadLink` both call it); `downloadCredential` is the only check anywhere
 * that accepts a credential from a URL, and only the download route uses it.
 *
 * For compatibility with the real BaluHost client it also takes an API token in `?token=`.
 * Neither the ticket nor the URL's query is ever logged or written to the audit log.
 */
import type { AppDatabase } from "@/db/client";
import { recordAudit, type Actor } from "../audit";
import { isDownloadTicket, issueDownloadTicket, ticketKey, verifyDownloadTicket } from "../auth/download-tickets";
import { requestUserOf, type RequestUser } from "../auth/request";
import { getBackupRow } from "../backup/catalog";
import { openBackupDownload } from "../backup/service";
import { resolveAuthSecret, type AppConfig } from "../config";
import { AppError } from "../errors";
import { authenticateToken } from "../tokens";
import { findUserById } from "../users";

export interface DownloadLink {
  /** Relative to the server, so it stays right behind a reverse proxy that rewrites the host. */
  url: string;
  expires_at: string;
}

const keys = new Map<string, Buffer>();

function keyFor(config: AppConfig): Buffer {
  const secret = resolveAuthSecret(config);
  let key = keys.get(secret);
  if (!key) keys.set(secret, (key = ticketKey(secret)));
  return key;
}

export function downloadPath(id: number): string {
  return `/api/backups/${id}/download`;
}

export async function createDownloadLink(opts: {
  db: AppDatabase;
  config: AppConfig;
  /** Who the ticket acts as (re-checked at each use). */
  user: Pick<RequestUser, "id" | "username">;
  actor: Actor;
  id: number;
  now?: Date;
}): Promise<DownloadLink> {
  // A link only for what the download would serve: a completed backup whose archive is there.
  const { filename } = await openBackupDownload({ db: opts.db, config: opts.config, id: opts.id });
  const { ticket, expiresAt } = issueDownloadTicket(keyFor(opts.config), {
    backupId: opts.id,
    filename,
    userId: opts.user.id,
    username: opts.user.username,
    now: opts.now,
  });
  recordAudit(opts.db, {
    action: "backup.download_link",
    actor: opts.actor,
    resource: `backup:${opts.id}`,
    success: true,
    details: { filename, expires_at: expiresAt.toISOString() },
  });
  return { url: `${downloadPath(opts.id)}?token=${encodeURIComponent(ticket)}`, expires_at: expiresAt.toISOString() };
}

/**
 * The user behind the `?token=` of a download of backup `backupId`: a ticket made for this
 * very archive, or an API token. Returns null for an unknown API token; throws
 * UNAUTHORIZED with the reason for a ticket that does not hold.
 */
export function downloadCredential(opts: { db: AppDatabase; config: AppConfig; token: string; backupId: number; now?: Date }): RequestUser | null {
  if (!isDownloadTicket(opts.token)) {
    const user = authenticateToken(opts.db, opts.token);
    return user ? requestUserOf(user, "token") : null;
  }
  const claims = verifyDownloadTicket(keyFor(opts.config), opts.token, opts.now);
  if (claims.backupId !== opts.backupId) {
    throw new AppError("UNAUTHORIZED", `This download link is for backup ${claims.backupId}, not backup ${opts.backupId}.`);
  }
  const row = getBackupRow(opts.db, opts.backupId);
  if (row.filename !== claims.filename) {
    throw new AppError("UNAUTHORIZED", `This download link was made for ${claims.filename}, which backup ${opts.backupId} no longer is: ask for a new link.`);
  }
  const found = findUserById(opts.db, claims.userId);
  const user = found?.username === claims.username ? found : undefined;
  if (!user) throw new AppError("UNAUTHORIZED", "The account that made this download link no longer exists.");
  return requestUserOf(user, "download-link");
}
