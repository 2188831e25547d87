import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import { AppError } from "@/server/errors";
import { isDownloadTicket, issueDownloadTicket, TICKET_LIFETIME_MS, ticketKey, verifyDownloadTicket } from "@/server/auth/download-tickets";

const SECRET = "a-test-auth-secret-of-enough-length-0123456789";
const key = ticketKey(SECRET);
const NOW = new Date("2026-03-01T12:00:00Z");
const claims = { backupId: 7, filename: "backup_20260301_115900.tar.gz", userId: 1, username: "admin", now: NOW };

function refusal(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}

/** Signs arbitrary claims with the real key, as only a holder of the secret could. */
function signedWith(wire: Record<string, unknown>): string {
  const signed = "bhdl_" + Buffer.from(JSON.stringify(wire)).toString("base64url");
  return `${signed}.${crypto.createHmac("sha256", key).update(signed).digest("base64url")}`;
}

describe("download tickets", () => {
  it("carry the backup, its filename, the user and an expiry about five minutes ahead", () => {
    const { ticket, expiresAt } = issueDownloadTicket(key, claims);
    expect(expiresAt.getTime() - NOW.getTime()).toBe(TICKET_LIFETIME_MS);
    expect(verifyDownloadTicket(key, ticket, NOW)).toEqual({
      purpose: "backup-download",
      backupId: 7,
      filename: claims.filename,
      userId: 1,
      username: "admin",
      expiresAt,
    });
  });

  it("are told apart from API tokens by their prefix, and are never API tokens", () => {
    const { ticket } = issueDownloadTicket(key, claims);
    expect(isDownloadTicket(ticket)).toBe(true);
    expect(isDownloadTicket("bh_abcdef")).toBe(false);
    expect(ticket.startsWith("bh_")).toBe(false);
  });

  it("are signed with a key derived from the secret, not the secret itself", () => {
    expect(key.equals(Buffer.from(SECRET))).toBe(false);
    expect(key.length).toBe(32);
    expect(ticketKey(SECRET).equals(key)).toBe(true);
  });

  it("are refused once expired, saying so", () => {
    const { ticket, expiresAt } = issueDownloadTicket(key, claims);
    const error = refusal(() => verifyDownloadTicket(key, ticket, expiresAt));
    expect(error.code).toBe("UNAUTHORIZED");
    expect(error.message).toMatch(/expired/);
  });

  it("are refused when signed by another server's secret", () => {
    const { ticket } = issueDownloadTicket(ticketKey("another-servers-secret-0123456789abcdef"), claims);
    expect(refusal(() => verifyDownloadTicket(key, ticket, NOW)).message).toMatch(/not valid/);
  });

  it("are refused when the claims were altered (another backup id, same signature)", () => {
    const { ticket } = issueDownloadTicket(key, claims);
    const [signed, signature] = ticket.split(".") as [string, string];
    const wire = JSON.parse(Buffer.from(signed.slice(5), "base64url").toString()) as Record<string, unknown>;
    const altered = "bhdl_" + Buffer.from(JSON.stringify({ ...wire, b: 8 })).toString("base64url");
    expect(refusal(() => verifyDownloadTicket(key, `${altered}.${signature}`, NOW)).message).toMatch(/not valid/);
  });

  it("are refused when the signature is cut short", () => {
    const { ticket } = issueDownloadTicket(key, claims);
    expect(refusal(() => verifyDownloadTicket(key, ticket.slice(0, -4), NOW)).code).toBe("UNAUTHORIZED");
  });

  it("are refused without a signature at all", () => {
    expect(refusal(() => verifyDownloadTicket(key, "bhdl_eyJwIjoiYmFja3VwLWRvd25sb2FkIn0", NOW)).code).toBe("UNAUTHORIZED");
  });

  it("are refused when signed for another purpose", () => {
    const other = signedWith({ p: "session", b: 7, f: claims.filename, u: 1, n: "admin", e: NOW.getTime() / 1000 + 60 });
    expect(refusal(() => verifyDownloadTicket(key, other, NOW)).message).toMatch(/not a backup download link/);
  });

  it("never put the ticket into the refusal's message", () => {
    const { ticket } = issueDownloadTicket(key, claims);
    const error = refusal(() => verifyDownloadTicket(key, ticket, new Date(NOW.getTime() + TICKET_LIFETIME_MS)));
    expect(error.message).not.toContain(ticket.slice(5, 30));
  });
});
