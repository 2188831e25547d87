/**
 * The manifest: backup/manifest.json, the last entry of every archive. It lists every entry
 * the backup knows about (including an incremental's unchanged files, which are listed but
 * not stored) with size, mtime, mode and, for files, the SHA-256 computed while the file was
 * read into the archive. Serialised with one entry per line so it stays readable and so that
 * the totals come before the (long) entry list.
 */
import { ArchiveError } from "./errors";
import { MANIFEST_FORMAT, MANIFEST_FORMAT_VERSION, type BackupManifest, type ManifestFileEntry } from "./types";

export const MANIFEST_ARCHIVE_PATH = "backup/manifest.json";
/** A manifest larger than this is refused by the reader (about 1.5 million entries). */
export const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;

export function computeTotals(entries: ManifestFileEntry[]): BackupManifest["totals"] {
  const totals = { files: 0, dirs: 0, symlinks: 0, bytes: 0, archived_files: 0, archived_bytes: 0 };
  for (const e of entries) {
    if (e.type === "dir") totals.dirs++;
    else if (e.type === "symlink") totals.symlinks++;
    else {
      totals.files++;
      totals.bytes += e.size;
      if (e.in_archive) {
        totals.archived_files++;
        totals.archived_bytes += e.size;
      }
    }
  }
  return totals;
}

export function serializeManifest(m: BackupManifest): Buffer {
  return Buffer.from([...manifestText(m)].join(""), "utf8");
}

/**
 * The manifest's JSON in pieces (the head, one piece per entry, the tail), so that the writer
 * can measure it and then stream it into the archive without ever holding the whole text: for
 * 100k entries the text alone is ~20 MB, and joining it costs that twice more.
 */
export function* manifestText(m: BackupManifest): Generator<string> {
  const { entries, ...head } = m;
  yield `${JSON.stringify(head).slice(0, -1)},\n"entries":[`;
  for (let i = 0; i < entries.length; i++) yield `${i === 0 ? "\n" : ",\n"}${JSON.stringify(entries[i])}`;
  yield entries.length === 0 ? "]}\n" : "\n]}\n";
}

/** Parses and checks a manifest; throws ArchiveError("ARCHIVE_INVALID") saying what is wrong. */
export function parseManifest(text: string, source = "the archive"): BackupManifest {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw invalid(source, "its manifest is not valid JSON", err);
  }
  if (!isObject(data)) throw invalid(source, "its manifest is not a JSON object");
  if (data.format !== MANIFEST_FORMAT) throw invalid(source, `it is not a BaluHost backup (format ${JSON.stringify(data.format)})`);
  if (data.format_version !== MANIFEST_FORMAT_VERSION) {
    throw invalid(
      source,
      typeof data.format_version === "number" && data.format_version > MANIFEST_FORMAT_VERSION
        ? `it was made by a newer BaluHost (manifest format ${data.format_version}); update BaluHost to use it`
        : `its manifest format version ${JSON.stringify(data.format_version)} is not supported`,
    );
  }
  const need = (ok: boolean, what: string) => {
    if (!ok) throw invalid(source, `its manifest has an invalid ${what}`);
  };
  need(typeof data.app_version === "string", "app_version");
  need(Number.isInteger(data.migration_level), "migration_level");
  need(["full", "incremental", "database_only", "files_only"].includes(data.backup_type as string), "backup_type");
  need(
    data.parent === null ||
      (isObject(data.parent) && Number.isInteger(data.parent.id) && typeof data.parent.filename === "string"),
    "parent",
  );
  need(typeof data.created_at === "string" && !Number.isNaN(Date.parse(data.created_at)), "created_at");
  need(
    isObject(data.includes) &&
      ["database", "files", "config"].every((k) => typeof (data.includes as Record<string, unknown>)[k] === "boolean"),
    "includes",
  );
  need(Array.isArray(data.entries), "entries list");
  const entries = data.entries as unknown[];
  for (let i = 0; i < entries.length; i++) need(isManifestFileEntry(entries[i]), `entry #${i + 1}`);
  need(
    isObject(data.totals) &&
      ["files", "dirs", "symlinks", "bytes", "archived_files", "archived_bytes"].every((k) =>
        isCount((data.totals as Record<string, unknown>)[k]),
      ),
    "totals",
  );
  return data as unknown as BackupManifest;
}

/**
 * The shape of one manifest entry: a non-empty path, a known type, whole non-negative size and
 * mode, a finite mtime, sha256 (64 lowercase hex) on files and only on files, link_target on
 * symlinks and only on symlinks. (Whether the path is safe is the extractor's business.)
 */
export function isManifestFileEntry(e: unknown): e is ManifestFileEntry {
  return (
    isObject(e) &&
    typeof e.path === "string" &&
    e.path.length > 0 &&
    (e.type === "file" || e.type === "dir" || e.type === "symlink") &&
    isCount(e.size) &&
    typeof e.mtime === "number" &&
    Number.isFinite(e.mtime) &&
    isCount(e.mode) &&
    typeof e.in_archive === "boolean" &&
    (e.type === "file" ? typeof e.sha256 === "string" && SHA256_HEX.test(e.sha256) : e.sha256 === undefined) &&
    (e.type === "symlink" ? typeof e.link_target === "string" : e.link_target === undefined)
  );
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

function invalid(source: string, why: string, cause?: unknown): ArchiveError {
  return new ArchiveError("ARCHIVE_INVALID", `${source} is not a valid backup: ${why}`, { path: source, cause });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): boolean {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}
