/**
 * What the archive holds, entry by entry, and the check of it against the manifest.
 *
 * EntryIndex refuses, as entries arrive: the same path twice; two paths equal after NFC
 * normalisation and lower-casing (a share served to macOS or Windows clients would merge
 * them); an entry inside something that is not a folder (a file, or a symlink: nothing is
 * ever written through a link); a file or link where other entries already put a folder.
 *
 * checkAgainstManifest (our archives) requires a one-to-one match: every stored file, folder
 * and link is listed with the same type, size, SHA-256 and link target; every listed entry with
 * in_archive:true is present, every one with in_archive:false is absent; the totals add up.
 */
import { ArchiveError, isManifestFileEntry, MANIFEST_FORMAT, MANIFEST_FORMAT_VERSION, parseManifest, type BackupManifest, type ManifestFileEntry } from "../archive";
import { computeTotals } from "../archive/manifest";
import { ArchiveRefusal, quoteName, refuse } from "./extract-errors";
import { checkEntryPath, collisionKey, placeEntry } from "./extract-paths";

export type IndexedKind = "dir" | "file" | "symlink" | "manifest" | "implicit";

export interface IndexedEntry {
  /** Path relative to "backup/" ("" for backup/ itself). */
  rel: string;
  kind: IndexedKind;
  size: number;
  sha256?: string;
  linkTarget?: string;
  matched?: boolean;
}

export class EntryIndex {
  private readonly byKey = new Map<string, IndexedEntry>();
  private lastParent: string | null = null;

  /** Registers an entry; `name` is its full archive name, for messages. */
  add(rel: string, kind: Exclude<IndexedKind, "implicit">, name: string): IndexedEntry {
    const slash = rel.lastIndexOf("/");
    const parent = slash < 0 ? "" : rel.slice(0, slash);
    if (parent !== this.lastParent && parent !== "") {
      this.addAncestors(parent, name);
      this.lastParent = parent;
    }
    const key = collisionKey(rel);
    const existing = this.byKey.get(key);
    if (existing) {
      if (existing.rel !== rel) {
        refuse(
          "duplicate",
          `the entries ${quoteName(`backup/${existing.rel}`)} and ${quoteName(name)} have names that ${howTheyDiffer(existing.rel, rel)}; they would be the same file for many clients`,
          name,
        );
      }
      if (existing.kind === "implicit") {
        if (kind !== "dir") refuse("duplicate", `the entry ${quoteName(name)} is a ${kind}, but other entries are inside it as if it were a folder`, name);
        existing.kind = "dir";
        return existing;
      }
      refuse("duplicate", `the archive contains ${quoteName(name)} twice`, name);
    }
    const entry: IndexedEntry = { rel, kind, size: 0 };
    this.byKey.set(key, entry);
    return entry;
  }

  private addAncestors(parent: string, name: string): void {
    let end = -1;
    do {
      end = parent.indexOf("/", end + 1);
      const a = end < 0 ? parent : parent.slice(0, end);
      const key = collisionKey(a);
      const existing = this.byKey.get(key);
      if (!existing) {
        this.byKey.set(key, { rel: a, kind: "implicit", size: 0 });
      } else if (existing.rel !== a) {
        refuse(
          "duplicate",
          `the entry ${quoteName(name)} is inside ${quoteName(`backup/${a}`)}, a folder whose name and that of ${quoteName(`backup/${existing.rel}`)} ${howTheyDiffer(existing.rel, a)}`,
          name,
        );
      } else if (existing.kind === "symlink") {
        refuse("type", `the entry ${quoteName(name)} would be written through the symlink ${quoteName(`backup/${a}`)}`, name);
      } else if (existing.kind !== "dir" && existing.kind !== "implicit") {
        refuse("duplicate", `the entry ${quoteName(name)} is inside ${quoteName(`backup/${a}`)}, which is a file, not a folder`, name);
      }
    } while (end >= 0);
  }

  /** The entry stored under exactly this path (not a case or normalisation variant). */
  get(rel: string): IndexedEntry | undefined {
    const e = this.byKey.get(collisionKey(rel));
    return e && e.rel === rel ? e : undefined;
  }

  values(): IterableIterator<IndexedEntry> {
    return this.byKey.values();
  }
}

/**
 * Parses the manifest text once; refuses with what is wrong (a newer format is a "version"
 * problem). The fields around the entry list are checked here by the archive engine's own
 * parseManifest; the entries, which can number millions, are checked by checkAgainstManifest
 * in slices that let the event loop breathe.
 */
export function readManifest(text: string): BackupManifest {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return refuse("manifest", "its manifest (backup/manifest.json) is not valid JSON", MANIFEST_ENTRY);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) refuse("manifest", "its manifest is not a JSON object", MANIFEST_ENTRY);
  const head = data as Record<string, unknown>;
  if (head.format !== MANIFEST_FORMAT) {
    refuse("manifest", `its backup/manifest.json is not a BaluHost manifest (format ${quoteName(String(head.format))})`, MANIFEST_ENTRY);
  }
  if (typeof head.format_version === "number" && head.format_version > MANIFEST_FORMAT_VERSION) {
    refuse(
      "version",
      `it was made by a newer BaluHost (backup format version ${head.format_version}; this version reads version ${MANIFEST_FORMAT_VERSION})`,
      MANIFEST_ENTRY,
    );
  }
  if (!Array.isArray(head.entries)) refuse("manifest", "its manifest has no entry list", MANIFEST_ENTRY);
  try {
    parseManifest(JSON.stringify({ ...head, entries: [] }), "The archive");
  } catch (err) {
    if (err instanceof ArchiveError) {
      const why = err.message.replace(/^.*? is not a valid backup: /, "");
      refuse("manifest", `its manifest is invalid: ${why}`, MANIFEST_ENTRY, err);
    }
    throw err;
  }
  return data as BackupManifest;
}

const MANIFEST_ENTRY = "backup/manifest.json";
const MANIFEST_PATH_LIMIT = 1 << 20;
const YIELD_EVERY = 2000;

const breathe = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * See the module comment. `sidecars` are the -wal/-shm names seen in backup/database/.
 * Returns the manifest's (millisecond) mtimes of the files and folders the archive holds.
 */
export async function checkAgainstManifest(manifest: BackupManifest, index: EntryIndex, sidecars: readonly string[]): Promise<Map<string, number>> {
  if (sidecars.length > 0) {
    refuse(
      "database",
      `it contains a stray database ${sidecars[0].replace("baluhost.db", "")} file (backup/database/${sidecars[0]}); BaluHost's own backups hold a self-contained database only`,
      `backup/database/${sidecars[0]}`,
    );
  }
  const listed = new Set<string>();
  const mtimes = new Map<string, number>();
  let matched = 0;
  for (let i = 0; i < manifest.entries.length; i++) {
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await breathe();
    const e = manifest.entries[i];
    checkListedEntry(e, i);
    const name = `backup/${e.path}`;
    if (listed.has(e.path)) refuse("manifest", `its manifest lists ${quoteName(name)} twice`, name);
    listed.add(e.path);
    const found = index.get(e.path);
    const present = found !== undefined && found.kind !== "implicit";
    if (!e.in_archive) {
      if (e.type !== "file") refuse("manifest", `its manifest lists the ${e.type} ${quoteName(name)} as not stored, which only files can be`, name);
      if (present) refuse("manifest", `the manifest says ${quoteName(name)} is not stored in this archive, but it is`, name);
      continue;
    }
    if (!present) refuse("manifest", `the manifest lists ${quoteName(name)}, but the archive does not contain it`, name);
    if (found.kind !== e.type) refuse("manifest", `${quoteName(name)} is a ${describeKind(found.kind)} in the archive but a ${e.type} in the manifest`, name);
    if (e.type === "file") {
      if (found.size !== e.size) {
        refuse("manifest", `${quoteName(name)} has ${found.size} bytes in the archive but ${e.size} in the manifest (size mismatch)`, name);
      }
      if (found.sha256 !== e.sha256) {
        refuse("manifest", `the content of ${quoteName(name)} does not match its SHA-256 checksum in the manifest`, name);
      }
    } else if (e.type === "symlink" && found.linkTarget !== e.link_target) {
      refuse("manifest", `the symlink ${quoteName(name)} points to ${quoteName(found.linkTarget ?? "")} but the manifest says ${quoteName(e.link_target ?? "")}`, name);
    }
    if (e.type !== "symlink") mtimes.set(e.path, e.mtime);
    found.matched = true;
    matched++;
  }

  let stored = 0;
  let unlisted: IndexedEntry | undefined;
  for (const e of index.values()) {
    if (e.kind === "implicit" || e.kind === "manifest" || isRootDir(e.rel)) continue;
    stored++;
    if (!e.matched) unlisted ??= e;
  }
  if (unlisted || stored !== matched) {
    const name = `backup/${unlisted?.rel ?? ""}`;
    refuse("manifest", `the archive contains ${quoteName(name)}, which its manifest does not list`, name);
  }

  const totals = computeTotals(manifest.entries);
  for (const key of Object.keys(totals) as Array<keyof typeof totals>) {
    if (totals[key] !== manifest.totals[key]) {
      refuse("manifest", `its manifest's totals disagree with its entries (${key}: ${manifest.totals[key]} stated, ${totals[key]} listed)`, MANIFEST_ENTRY);
    }
  }
  const hasDatabase = listed.has("database/baluhost.db");
  if (manifest.includes.database !== hasDatabase) {
    refuse(
      "manifest",
      manifest.includes.database ? "its manifest says it includes the database but lists none" : "it contains a database its manifest says it does not include",
      "backup/database/baluhost.db",
    );
  }
  for (const part of ["files", "config"] as const) {
    if (!manifest.includes[part] && [...listed].some((p) => p.startsWith(`${part}/`))) {
      refuse("manifest", `it contains ${part}/ entries although its manifest says it does not include ${part}`, `backup/${part}/`);
    }
  }
  return mtimes;
}

/** One manifest entry, from an archive not yet trusted: shape first (the writer's own rule), then its path. */
function checkListedEntry(e: ManifestFileEntry, i: number): void {
  if (!isManifestFileEntry(e)) refuse("manifest", `its manifest has an invalid entry #${i + 1}`, MANIFEST_ENTRY);
  checkListedPath(e.path, e.type);
}

function checkListedPath(rel: string, type: string): void {
  const name = `backup/${rel}`;
  try {
    const kind = type === "dir" ? "dir" : type === "symlink" ? "symlink" : "file";
    const placed = placeEntry(name, checkEntryPath(name, kind, MANIFEST_PATH_LIMIT), kind);
    if (placed.kind === "tree" || (placed.kind === "database" && placed.name === "baluhost.db")) return;
  } catch (err) {
    if (!(err instanceof ArchiveRefusal)) throw err;
  }
  refuse("manifest", `its manifest lists the invalid path ${quoteName(rel)}`, name);
}

/** Why two different names collide, in words: both can look identical in a message. */
function howTheyDiffer(a: string, b: string): string {
  if (a.normalize("NFC") === b.normalize("NFC")) return "differ only in Unicode normalisation (the same accented letters, encoded differently)";
  if (a.toLowerCase() === b.toLowerCase()) return "differ only in upper/lower case";
  return "differ only in upper/lower case and Unicode normalisation";
}

function isRootDir(rel: string): boolean {
  return rel === "" || rel === "database" || rel === "files" || rel === "config";
}

function describeKind(kind: IndexedKind): string {
  return kind === "dir" ? "folder" : kind;
}
