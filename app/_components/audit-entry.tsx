/**
 * An audit entry for people: the sentence (with the error, when it failed) and its
 * details as a list of labelled fields. The words come from app/_lib/audit-words.ts;
 * used by the Audit log, the Backup tab's activity and Home's recent activity.
 */
import { auditDetailFields, auditSentence, type AuditEntryFacts } from "@/app/_lib/audit-words";
import { Badge } from "./badge";
import { BreakableText } from "./breakable-text";
import { DateTime } from "./date-time";

export function AuditSentence({ entry }: { entry: AuditEntryFacts }) {
  const { text, error } = auditSentence(entry);
  return (
    <span className="audit-sentence" data-testid="audit-sentence">
      <BreakableText text={text} />
      {error ? (
        <>
          {": "}
          <span className="error-text">{error}</span>
        </>
      ) : null}
    </span>
  );
}

/** The entry's details as a <dl>; nothing when it has none. */
export function AuditDetails({ entry, includeIp = false }: { entry: AuditEntryFacts; includeIp?: boolean }) {
  const fields = auditDetailFields(entry, { includeIp });
  if (fields.length === 0) return null;
  return (
    <dl className="audit-fields">
      {fields.map((field) => (
        <div key={field.key}>
          <dt>{field.label}</dt>
          <dd>{field.value.kind === "date" ? <DateTime value={field.value.iso} seconds /> : <BreakableText text={field.value.text} />}</dd>
        </div>
      ))}
    </dl>
  );
}

/** The details behind a "Details" disclosure, so a list stays one line per entry. */
export function AuditDisclosure({ entry, includeIp = false }: { entry: AuditEntryFacts; includeIp?: boolean }) {
  if (auditDetailFields(entry, { includeIp }).length === 0) return null;
  return (
    <details className="detail-disclosure">
      <summary>Details</summary>
      <AuditDetails entry={entry} includeIp={includeIp} />
    </details>
  );
}

/** The "what happened" of a table row: the sentence, the action code (what the filters match), the details. */
export function AuditWhat({ entry }: { entry: AuditEntryFacts }) {
  return (
    <>
      <AuditSentence entry={entry} />
      <span className="cell-sub">
        <code>{entry.action}</code>
      </span>
      <AuditDisclosure entry={entry} />
    </>
  );
}

/** Success or Failed; a cancelled backup (recorded as a create that did not finish) says so. */
export function AuditResult({ entry }: { entry: Pick<AuditEntryFacts, "action" | "success"> }) {
  if (entry.action === "backup.cancel") {
    return (
      <Badge tone="neutral" dot>
        Cancelled
      </Badge>
    );
  }
  return (
    <Badge tone={entry.success ? "success" : "danger"} dot>
      {entry.success ? "Success" : "Failed"}
    </Badge>
  );
}
