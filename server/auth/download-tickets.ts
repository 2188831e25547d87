/**
 * Download tickets: short-lived signed credentials for one backup's download, so a
 * plain `<a href="…/download?token=…">` works without a header and without putting an API
 * token in a URL.
 *
 * A ticket is `bhdl_<claims>.<signature>`: base64url JSON claims (purpose, backup id and
 * filename, user id and name, expiry) and an HMAC-SHA256 over everything before the dot. The key is
 * derived from the app's auth secret with HKDF and a purpose label of its own, so a ticket
 * can never be mistaken for, or forged from, a session cookie signed with the same secret.
 * The prefix differs from API tokens (`bh_`), so neither is ever looked up as the other.
 *
 * Tickets are stateless: nothing is stored, they are simply refused after `exp`. Within its
 * lifetime one ticket may be used again (a browser resumes a download with Range requests);
 * the user is re-read at each use and must still be an admin (the route checks the role).
 */
import crypto from "node:crypto";
import { AppError } from "../errors";

export const TICKET_PREFIX = "bhdl_";
export const TICKET_PURPOSE = "backup-download";
/** Long enough to click a link or start a script, short enough that a leaked URL soon stops working. */
export const TICKET_LIFETIME_MS = 5 * 60 * 1000;

const HKDF_INFO = "baluhost download-ticket key v1";

export interface TicketClaims {
  purpose: typeof TICKET_PURPOSE;
  backupId: number;
  /** The archive's filename: a backup id can name another archive after a restore. */
  filename: string;
  userId: number;
  /** With the id, as in the session: after a restore an id may belong to someone else. */
  username: string;
  expiresAt: Date;
}

interface WireClaims {
  p: string;
  b: number;
  f: string;
  u: number;
  n: string;
  /** Expiry, seconds since the epoch. */
  e: number;
}

/** The signing key of tickets, derived from the auth secret (never the secret itself). */
export function ticketKey(authSecret: string): Buffer {
  return Buffer.from(crypto.hkdfSync("sha256", authSecret, Buffer.alloc(0), HKDF_INFO, 32));
}

function sign(key: Buffer, signed: string): Buffer {
  return crypto.createHmac("sha256", key).update(signed).digest();
}

export function isDownloadTicket(token: string): boolean {
  return token.startsWith(TICKET_PREFIX);
}

export function issueDownloadTicket(
  key: Buffer,
  input: { backupId: number; filename: string; userId: number; username: string; now?: Date },
): { ticket: string; expiresAt: Date } {
  const now = input.now ?? new Date();
  const expiresAt = new Date(Math.floor((now.getTime() + TICKET_LIFETIME_MS) / 1000) * 1000);
  const claims: WireClaims = { p: TICKET_PURPOSE, b: input.backupId, f: input.filename, u: input.userId, n: input.username, e: expiresAt.getTime() / 1000 };
  const signed = TICKET_PREFIX + Buffer.from(JSON.stringify(claims)).toString("base64url");
  return { ticket: `${signed}.${sign(key, signed).toString("base64url")}`, expiresAt };
}

const refused = (message: string) => new AppError("UNAUTHORIZED", message);

/**
 * Checks a ticket's signature (in constant time), purpose and expiry, and returns its
 * claims. Throws UNAUTHORIZED saying what to do; never echoes the ticket.
 */
export function verifyDownloadTicket(key: Buffer, ticket: string, now: Date = new Date()): TicketClaims {
  const dot = ticket.lastIndexOf(".");
  const signed = dot > 0 ? ticket.slice(0, dot) : "";
  if (!signed.startsWith(TICKET_PREFIX)) throw refused("This download link is malformed: ask for a new one.");
  const given = Buffer.from(ticket.slice(dot + 1), "base64url");
  const expected = sign(key, signed);
  // timingSafeEqual needs equal lengths; the length of a signature is no secret.
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
    throw refused("This download link is not valid (altered, or made by another server): ask for a new one.");
  }
  let claims: WireClaims;
  try {
    claims = JSON.parse(Buffer.from(signed.slice(TICKET_PREFIX.length), "base64url").toString("utf8")) as WireClaims;
  } catch {
    throw refused("This download link is malformed: ask for a new one.");
  }
  const wellFormed =
    claims.p === TICKET_PURPOSE &&
    Number.isInteger(claims.b) &&
    typeof claims.f === "string" &&
    Number.isInteger(claims.u) &&
    typeof claims.n === "string" &&
    typeof claims.e === "number";
  if (!wellFormed) throw refused("This link is not a backup download link.");
  const expiresAt = new Date(claims.e * 1000);
  if (now.getTime() >= expiresAt.getTime()) {
    throw refused(`This download link expired at ${expiresAt.toISOString()}: ask for a new one (links last ${TICKET_LIFETIME_MS / 60000} minutes).`);
  }
  return { purpose: TICKET_PURPOSE, backupId: claims.b, filename: claims.f, userId: claims.u, username: claims.n, expiresAt };
}
