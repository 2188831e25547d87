/**
 * The manifest: backup/manifest.json, the last entry of every archive. It lists every entry
 * the backup knows about (including an incremental's unchanged files, which are listed but
 * not stored) with size, mtime, mode and, for files, the SHA-256 computed while the file was
 * read into the archive. Serialised with one entry per line, the totals before the (long)
 * entry list, so that it stays readable and can be written and read as a stream.
 */
import { BACKUP_TYPES } from "@/db/schema";
import { ArchiveError } from "./errors";
import { ItemCursor } from "./item-cursor";
import { MANIFEST_FORMAT, MANIFEST_FORMAT_VERSION, type BackupManifest, type ManifestFileEntry } from "./types";

export const MANIFEST_ARCHIVE_PATH = "backup/manifest.json";
/** A manifest larger than this is refused by the reader (about 1.5 million entries). */
export const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;

export type ManifestTotals = BackupManifest["totals"];

export function emptyTotals(): ManifestTotals {
  return { files: 0, dirs: 0, symlinks: 0, bytes: 0, archived_files: 0, archived_bytes: 0 };
}

/** Counts one entry into running totals (the writer keeps them as it goes). */
export function addToTotals(totals: ManifestTotals, e: ManifestFileEntry): void {
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

export function computeTotals(entries: ManifestFileEntry[]): ManifestTotals {
  const totals = emptyTotals();
  for (const e of entries) addToTotals(totals, e);
  return totals;
}

export function serializeManifest(m: BackupManifest): Buffer {
  return Buffer.from([...manifestText(m)].join(""), "utf8");
}

/*
 * The text form, one entry per line, the head (with the totals) first, a comma in front of
 * every entry but the first (so that an entry's line never depends on whether another follows,
 * and the writer can spool lines before it knows which is the last):
 *
 *   {"format":"baluhost-backup",...,"totals":{...},
 *   "entries":[
 *   {"path":"database/baluhost.db",...}
 *   ,{"path":"files/a.txt",...}
 *   ]}
 *
 * It is plain JSON; the line structure lets readers stream it (readManifestStream) instead of
 * parsing millions of entries at once.
 */
const ENTRIES_LINE = '"entries":[';

export function manifestHeadText(head: Omit<BackupManifest, "entries">): string {
  return `${JSON.stringify(head).slice(0, -1)},\n${ENTRIES_LINE}`;
}

/** One entry's line (without its newline): a comma in front unless it is the first. */
export function manifestEntryText(e: ManifestFileEntry, first: boolean): string {
  return `${first ? "" : ","}${JSON.stringify(e)}`;
}

/** What follows the entry lines. */
export const MANIFEST_TAIL = "]}\n";

/**
 * The manifest's JSON in pieces (the head, one piece per entry, the tail), so that it can be
 * measured and streamed without ever holding the whole text.
 */
export function* manifestText(m: BackupManifest): Generator<string> {
  const { entries, ...head } = m;
  yield manifestHeadText(head) + (entries.length === 0 ? "" : "\n");
  for (let i = 0; i < entries.length; i++) yield `${manifestEntryText(entries[i], i === 0)}\n`;
  yield MANIFEST_TAIL;
}

export type ManifestSummary = Omit<BackupManifest, "entries">;

export interface ManifestStream {
  head: ManifestSummary;
  /** The entries, in order, in batches; each checked with isManifestFileEntry. Read once. */
  entries: AsyncGenerator<ManifestFileEntry[]>;
  /** Stops reading (closes the source) when the entries are not read to the end. */
  close(): Promise<void>;
}

/**
 * Reads a manifest from its text without holding all of it: in the line form above the head
 * is parsed first and the entries are parsed line by line as they are consumed. Any other
 * valid JSON form (a manifest written by hand or compacted) is parsed whole, up to
 * MAX_MANIFEST_BYTES. Throws ArchiveError("ARCHIVE_INVALID") saying what is wrong.
 */
export async function readManifestStream(
  lines: AsyncIterable<string[]>,
  source = "the archive",
  /** Called with the parsed head before its fields are checked (a reader's own first refusals). */
  checkHead?: (head: Record<string, unknown>) => void,
): Promise<ManifestStream> {
  const cursor = new ItemCursor(lines);
  const nextLine = () => cursor.next();
  const first = await nextLine();
  const second = first === null ? null : await nextLine();
  if (first !== null && second !== null && first.endsWith(",") && (second === ENTRIES_LINE || second === `${ENTRIES_LINE}]}`)) {
    const headText = `${first.slice(0, -1)},"entries":[]}`;
    if (checkHead) checkHead(parseObject(headText, source));
    const head = parseManifest(headText, source);
    const { entries: _none, ...summary } = head;
    return {
      head: summary,
      entries: lineEntries(second !== ENTRIES_LINE, nextLine, source),
      close: () => cursor.close(),
    };
  }
  // Not the line form: the whole text, bounded.
  const parts = [first ?? "", second ?? ""];
  let size = parts[0].length + parts[1].length;
  for (let line = await nextLine(); line !== null; line = await nextLine()) {
    size += line.length + 1;
    if (size > MAX_MANIFEST_BYTES) throw invalid(source, `its manifest is larger than ${MAX_MANIFEST_BYTES} bytes`);
    parts.push(line);
  }
  const text = parts.join("\n");
  if (checkHead) checkHead(parseObject(text, source));
  return manifestAsStream(parseManifest(text, source));
}

function parseObject(text: string, source: string): Record<string, unknown> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw invalid(source, "its manifest is not valid JSON", err);
  }
  if (!isObject(data)) throw invalid(source, "its manifest is not a JSON object");
  return data;
}

/** A manifest already in memory, as a stream. */
export function manifestAsStream(manifest: BackupManifest): ManifestStream {
  const { entries, ...head } = manifest;
  return {
    head,
    entries: (async function* () {
      for (let i = 0; i < entries.length; i += 1024) yield entries.slice(i, i + 1024);
    })(),
    close: async () => undefined,
  };
}

async function* lineEntries(empty: boolean, nextLine: () => Promise<string | null>, source: string): AsyncGenerator<ManifestFileEntry[]> {
  let out: ManifestFileEntry[] = [];
  let n = 0;
  let ended = empty;
  let commaBehind = false;
  for (let line = await nextLine(); line !== null; line = await nextLine()) {
    if (ended) {
      if (line === "") continue;
      throw invalid(source, "its manifest has text after its end");
    }
    if (line === "]}") {
      if (commaBehind) throw invalid(source, `its manifest's entry #${n} is followed by a comma but no entry`);
      ended = true;
      continue;
    }
    // Entries are separated by exactly one comma: in front of the line (this form) or, in
    // manifests written by hand, behind the previous one.
    const commaInFront = line.startsWith(",");
    if (n > 0 && commaInFront === commaBehind) throw invalid(source, `its manifest's entry #${n + 1} is not separated from the one before by one comma`);
    if (n === 0 && commaInFront) throw invalid(source, "its manifest's entry list starts with a comma");
    commaBehind = line.endsWith(",");
    const text = line.slice(commaInFront ? 1 : 0, commaBehind ? -1 : undefined);
    let e: unknown;
    try {
      e = JSON.parse(text);
    } catch (err) {
      throw invalid(source, `its manifest's entry #${n + 1} is not valid JSON`, err);
    }
    if (!isManifestFileEntry(e)) throw invalid(source, `its manifest has an invalid entry #${n + 1}`);
    n++;
    out.push(e);
    if (out.length >= 1024) {
      yield out;
      out = [];
    }
  }
  if (!ended) throw invalid(source, "its manifest is cut short (no end of the entry list)");
  if (out.length > 0) yield out;
}

/** Parses and checks a manifest; throws ArchiveError("ARCHIVE_INVALID") saying what is wrong. */
export function parseManifest(text: string, source = "the archive"): BackupManifest {
  const data = parseObject(text, source);
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
  need((BACKUP_TYPES as readonly string[]).includes(data.backup_type as string), "backup_type");
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
