/** The audit log's words: sentences for each kind of entry, and details as labelled fields. */
import { describe, expect, it } from "vitest";
import { auditActionLabel, auditDetailFields, auditSentence, auditSentenceText, BACKUP_AUDIT_ACTIONS, type AuditEntryFacts } from "@/app/_lib/audit-words";

function entry(fields: Partial<AuditEntryFacts> & { action: string }): AuditEntryFacts {
  return { actor_name: "admin", resource: null, success: true, error_message: null, details: null, ...fields };
}

describe("auditSentence", () => {
  it("says retention removed the backup it deleted", () => {
    const e = entry({ action: "backup.retention_delete", actor_name: "system", resource: "backup:4", details: { filename: "backup_20261201_030000.tar.gz", status: "completed" } });
    expect(auditSentenceText(e)).toBe("Retention removed backup_20261201_030000.tar.gz");
  });

  it("names what a restore put back", () => {
    const e = entry({ action: "backup.restore", resource: "backup:2", details: { filename: "backup_x.tar.gz", parts: { database: true, files: true, config: false }, safety_backup_id: 3 } });
    expect(auditSentenceText(e)).toBe("admin restored backup_x.tar.gz (database, files)");
  });

  it("gives a refused upload with the server's reason as the error", () => {
    const e = entry({ action: "backup.upload", success: false, error_message: "The file is not a gzip archive.", details: { original_name: "x.tar.gz" } });
    expect(auditSentence(e)).toEqual({ text: "Upload refused", error: "The file is not a gzip archive." });
    expect(auditSentenceText(e)).toBe("Upload refused: The file is not a gzip archive.");
  });

  it("says what an uploaded file became", () => {
    const e = entry({ action: "backup.upload", details: { original_name: "offsite copy.tar.gz", filename: "backup_20261201_030000.tar.gz" } });
    expect(auditSentenceText(e)).toBe("admin uploaded offsite copy.tar.gz as backup_20261201_030000.tar.gz");
  });

  it("gives a created backup's type and size", () => {
    const e = entry({ action: "backup.create", resource: "backup:1", details: { filename: "backup_a.tar.gz", backup_type: "database_only", size_bytes: 1536 } });
    expect(auditSentenceText(e)).toBe("admin created backup_a.tar.gz (database only, 1.5 KiB)");
  });

  it("falls back on the resource when the details name no file", () => {
    const e = entry({ action: "backup.delete", resource: "backup:9", success: false, error_message: "Backup 9 is the base of incremental backup 10." });
    expect(auditSentenceText(e)).toBe("Delete refused: Backup 9 is the base of incremental backup 10.");
    expect(auditSentenceText(entry({ action: "backup.download", resource: "backup:9" }))).toBe("admin downloaded backup 9");
  });

  it("explains a refused sign-in in words", () => {
    const e = entry({ action: "auth.login", actor_name: "bob", success: false, error_message: "invalid credentials" });
    expect(auditSentenceText(e)).toBe("Sign-in refused for bob: wrong username or password");
  });

  it("names the token that was created or revoked", () => {
    expect(auditSentenceText(entry({ action: "token.create", details: { name: "ci", prefix: "bh_12" } }))).toBe("admin created the API token “ci”");
    expect(auditSentenceText(entry({ action: "token.revoke", resource: "token:3" }))).toBe("admin revoked token 3");
  });

  it("says what retention was set to", () => {
    expect(auditSentenceText(entry({ action: "backup.retention_settings", details: { max_count: 40, retention_days: 90 } }))).toBe(
      "admin set retention to at most 40 backups, 90 days",
    );
  });

  it("says a restore drill passed and how long the restore took, or which drill failed", () => {
    const passed = entry({ action: "backup.drill", resource: "backup:2", details: { filename: "backup_x.tar.gz", duration_ms: 41_000 } });
    expect(auditSentenceText(passed)).toBe("admin ran a restore drill of backup_x.tar.gz: it restores (restore took 41 s)");
    const failed = entry({ action: "backup.drill", success: false, error_message: "Database integrity: damaged.", details: { filename: "backup_x.tar.gz" } });
    expect(auditSentenceText(failed)).toBe("Restore drill of backup_x.tar.gz failed: Database integrity: damaged.");
    expect(auditDetailFields(passed).find((f) => f.key === "duration_ms")).toMatchObject({ label: "Restore took", value: { text: "41 s" } });
  });

  it("still says something for an action it does not know", () => {
    expect(auditSentenceText(entry({ action: "share.create", resource: "share:photos" }))).toBe("admin: Share create (share photos)");
    expect(auditSentenceText(entry({ action: "share.create", success: false, error_message: "No space." }))).toBe("Share create failed: No space.");
  });
});

describe("auditDetailFields", () => {
  it("labels known keys and formats their values", () => {
    const fields = auditDetailFields(
      entry({
        action: "backup.create",
        resource: "backup:7",
        user_agent: "curl/8.5",
        details: { filename: "backup_a.tar.gz", size_bytes: 2 * 1024 * 1024, backup_type: "full", foreign: false, parts: { database: true, files: false }, chain: [1, 3] },
      }),
    );
    const shown = Object.fromEntries(fields.map((f) => [f.label, f.value.kind === "text" ? f.value.text : f.value.iso]));
    expect(shown).toEqual({
      Archive: "backup_a.tar.gz",
      Size: "2 MiB",
      Type: "full",
      "Made elsewhere": "No",
      Parts: "database",
      "Archives read": "1, 3",
      Concerns: "backup 7",
      "Browser or client": "curl/8.5",
    });
  });

  it("shows an unknown key under a humanised name, and times as dates", () => {
    const fields = auditDetailFields(entry({ action: "x", details: { queue_depth: 1200, finished_at: "2026-12-01T03:00:00.000Z", extra: { a_b: 1 } } }));
    expect(fields.map((f) => f.label)).toEqual(["Queue depth", "Finished at", "Extra"]);
    expect(fields[0]!.value).toEqual({ kind: "text", text: "1,200" });
    expect(fields[1]!.value).toEqual({ kind: "date", iso: "2026-12-01T03:00:00.000Z" });
    expect(fields[2]!.value).toEqual({ kind: "text", text: "a b: 1" });
  });

  it("shows the IP address as IPv4 when asked for it", () => {
    const fields = auditDetailFields(entry({ action: "auth.login", ip: "::ffff:192.0.2.7" }), { includeIp: true });
    expect(fields).toEqual([{ key: "ip", label: "IP address", value: { kind: "text", text: "192.0.2.7" } }]);
  });
});

describe("action labels", () => {
  it("have one label per action, used by the Backup tab's filter too", () => {
    expect(auditActionLabel("backup.retention_delete")).toBe("Removed by retention");
    expect(BACKUP_AUDIT_ACTIONS.find((a) => a.value === "restore")?.label).toBe(auditActionLabel("backup.restore"));
  });
});
