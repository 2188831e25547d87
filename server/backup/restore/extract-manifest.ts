/**
 * What the archive holds, entry by entry, and the check of it against the manifest, in memory
 * that does not grow with the number of entries (beyond a few dozen bytes each).
 *
 * EntryIndex refuses, as entries arrive: the same path twice; two paths equal after NFC
 * normalisation and lower-casing (a share served to macOS or Windows clients would merge
 * them); an entry inside something that is not a folder (a file, or a symlink: nothing is
 * ever written through a link); a file or link where other entries already put a folder.
 * It keeps 128-bit MD5 digests of the names (a hash table of typed arrays), not the names:
 * an archive's names cannot be chosen to collide by accident, and crafting MD5 collisions
 * that are also valid path names gains nothing (the writer never writes through an existing
 * name either). Names for messages are looked up again in the log of stored entries.
 *
 * StoredLog is that log: every stored file, folder and link in archive order, spooled to disk.
 *
 * checkManifest (our archives) streams the manifest and requires a one-to-one match in order:
 * every stored file, folder and link is listed with the same type, size, SHA-256 and link
 * target, in the order the writer stored them; every listed entry with in_archive:true is
 * present, every one with in_archive:false is absent and listed once; the totals add up.
 */
import crypto from "node:crypto";
import { ArchiveError, MANIFEST_FORMAT, MANIFEST_FORMAT_VERSION, type ManifestFileEntry } from "../archive";
import { ItemCursor } from "../archive/item-cursor";
import { LineSpool } from "../archive/line-spool";
import { addToTotals, emptyTotals, readManifestStream, type ManifestSummary } from "../archive/manifest";
import { ArchiveRefusal, quoteName, refuse } from "./extract-errors";
import { checkEntryPath, collisionKey, placeEntry } from "./extract-paths";

export type IndexedKind = "dir" | "file" | "symlink" | "manifest" | "implicit" | "listed";
const KINDS: IndexedKind[] = ["dir", "file", "symlink", "manifest", "implicit", "listed"];

/** One stored entry (relative to "backup/"), as logged. */
export interface StoredEntry {
  rel: string;
  kind: "dir" | "file" | "symlink";
  size: number;
  sha256: string | null;
  linkTarget: string | null;
  /** Whether it was written to a destination (entries not wanted are only checked). */
  written: boolean;
  /** The header's mtime (whole seconds), for archives without a manifest. */
  mtimeMs: number | null;
}

/** The stored entries in archive order, in a spool file. */
export class StoredLog {
  private constructor(private readonly spool: LineSpool) {}

  static async create(file: string): Promise<StoredLog> {
    return new StoredLog(await LineSpool.create(file));
  }

  get count(): number {
    return this.spool.count;
  }

  append(e: StoredEntry): Promise<void> | undefined {
    return this.spool.append(JSON.stringify([e.rel, e.kind, e.size, e.sha256, e.linkTarget, e.written ? 1 : 0, e.mtimeMs]));
  }

  /** The entries so far (flushes what is buffered), in batches. */
  async *entries(): AsyncGenerator<StoredEntry[]> {
    for await (const lines of this.spool.linesSoFar()) {
      yield lines.map((line) => {
        const [rel, kind, size, sha256, linkTarget, written, mtimeMs] = JSON.parse(line) as [string, StoredEntry["kind"], number, string | null, string | null, number, number | null];
        return { rel, kind, size, sha256, linkTarget, written: written === 1, mtimeMs };
      });
    }
  }

  /** The first stored name that collides with `rel` (for messages; reads the whole log). */
  async nameCollidingWith(rel: string): Promise<string | null> {
    const key = collisionKey(rel);
    for await (const batch of this.entries()) for (const e of batch) if (collisionKey(e.rel) === key) return e.rel;
    return null;
  }

  remove(): Promise<void> {
    return this.spool.remove();
  }
}

/**
 * Names seen so far, by digest: of the collision key (what a case-insensitive client would
 * merge) and of the exact name. Open addressing (linear probing) over typed arrays, grown at
 * three-quarters full: 25 bytes a slot, about 40 bytes an entry.
 */
export class EntryIndex {
  private capacity = 1 << 12;
  private keys = new Int32Array(this.capacity * 4);
  private exact = new Int32Array(this.capacity * 2);
  private kinds = new Uint8Array(this.capacity);
  private size = 0;
  /** Folders known only from the paths of entries inside them: their names (few, in any archive). */
  private readonly implicitNames = new Map<string, string>();
  /** The ancestors of the previous entry, all checked: in archive order most entries share them. */
  private checkedAncestors: string[] = [];

  constructor(private readonly log: StoredLog) {}

  /** Registers an entry; `name` is its full archive name, for messages. */
  async add(rel: string, kind: Exclude<IndexedKind, "implicit" | "listed">, name: string): Promise<void> {
    const slash = rel.lastIndexOf("/");
    if (slash > 0) await this.addAncestors(rel.slice(0, slash), name);
    const d = digest(rel);
    const slot = this.find(d);
    if (slot < 0) return this.insert(d, kind);
    const existing = KINDS[this.kinds[slot] - 1];
    if (!this.sameName(slot, d)) {
      const other = (await this.nameOf(d, rel)) ?? "?";
      refuse(
        "duplicate",
        `the entries ${quoteName(`backup/${other}`)} and ${quoteName(name)} have names that ${howTheyDiffer(other, rel)}; they would be the same file for many clients`,
        name,
      );
    }
    if (existing === "implicit") {
      if (kind !== "dir") refuse("duplicate", `the entry ${quoteName(name)} is a ${kind}, but other entries are inside it as if it were a folder`, name);
      this.kinds[slot] = KINDS.indexOf("dir") + 1;
      return;
    }
    refuse("duplicate", `the archive contains ${quoteName(name)} twice`, name);
  }

  /**
   * A file the manifest lists as not stored: refused if stored, or listed before, under exactly
   * this name (an unchanged file may differ from another only in case, as on disk: the old
   * archive holding it was checked for collisions when it was read).
   */
  addListed(rel: string, name: string): void {
    const d = digest(rel);
    const slot = this.find(d, true);
    if (slot < 0) return this.insert(d, "listed");
    const kind = KINDS[this.kinds[slot] - 1];
    if (kind === "listed") refuse("manifest", `its manifest lists ${quoteName(name)} twice`, name);
    if (kind !== "implicit") refuse("manifest", `the manifest says ${quoteName(name)} is not stored in this archive, but it is`, name);
  }

  /** Whether an entry with exactly this name was stored (not only implied by others inside it). */
  has(rel: string): boolean {
    const slot = this.find(digest(rel), true);
    if (slot < 0) return false;
    const kind = KINDS[this.kinds[slot] - 1];
    return kind !== "implicit" && kind !== "listed";
  }

  private async addAncestors(parent: string, name: string): Promise<void> {
    // Ancestors shared with the previous entry's are known to be fine.
    const previous = this.checkedAncestors;
    let end = -1;
    let depth = 0;
    const chain: string[] = [];
    do {
      end = parent.indexOf("/", end + 1);
      const a = end < 0 ? parent : parent.slice(0, end);
      chain.push(a);
      if (previous[depth] !== a) await this.checkAncestor(a, name);
      depth++;
    } while (end >= 0);
    this.checkedAncestors = chain;
  }

  private async checkAncestor(a: string, name: string): Promise<void> {
    const d = digest(a);
    const slot = this.find(d);
    if (slot < 0) {
      this.insert(d, "implicit");
      this.implicitNames.set(d.hex, a);
      return;
    }
    const kind = KINDS[this.kinds[slot] - 1];
    if (!this.sameName(slot, d)) {
      const other = (await this.nameOf(d, a)) ?? "?";
      refuse(
        "duplicate",
        `the entry ${quoteName(name)} is inside ${quoteName(`backup/${a}`)}, a folder whose name and that of ${quoteName(`backup/${other}`)} ${howTheyDiffer(other, a)}`,
        name,
      );
    } else if (kind === "symlink") {
      refuse("type", `the entry ${quoteName(name)} would be written through the symlink ${quoteName(`backup/${a}`)}`, name);
    } else if (kind !== "dir" && kind !== "implicit") {
      refuse("duplicate", `the entry ${quoteName(name)} is inside ${quoteName(`backup/${a}`)}, which is a file, not a folder`, name);
    }
  }

  /** The name already registered under this collision key (an implied folder, or a stored entry). */
  private async nameOf(d: Digest, rel: string): Promise<string | null> {
    return this.implicitNames.get(d.hex) ?? (await this.log.nameCollidingWith(rel));
  }

  /** The first slot with this collision key; with `exact`, the slot of exactly this name (past names that only collide with it). */
  private find(d: Digest, exact = false): number {
    const mask = this.capacity - 1;
    for (let slot = d.key[0] & mask; ; slot = (slot + 1) & mask) {
      if (this.kinds[slot] === 0) return -1;
      const k = slot * 4;
      const sameKey = this.keys[k] === d.key[0] && this.keys[k + 1] === d.key[1] && this.keys[k + 2] === d.key[2] && this.keys[k + 3] === d.key[3];
      if (sameKey && (!exact || this.sameName(slot, d))) return slot;
    }
  }

  private sameName(slot: number, d: Digest): boolean {
    return this.exact[slot * 2] === d.exact[0] && this.exact[slot * 2 + 1] === d.exact[1];
  }

  private insert(d: Digest, kind: IndexedKind): void {
    if ((this.size + 1) * 4 > this.capacity * 3) this.grow();
    const mask = this.capacity - 1;
    let slot = d.key[0] & mask;
    while (this.kinds[slot] !== 0) slot = (slot + 1) & mask;
    this.keys.set(d.key, slot * 4);
    this.exact.set(d.exact, slot * 2);
    this.kinds[slot] = KINDS.indexOf(kind) + 1;
    this.size++;
  }

  private grow(): void {
    const { keys, exact, kinds, capacity } = this;
    this.capacity = capacity * 2;
    this.keys = new Int32Array(this.capacity * 4);
    this.exact = new Int32Array(this.capacity * 2);
    this.kinds = new Uint8Array(this.capacity);
    this.size = 0;
    for (let slot = 0; slot < capacity; slot++) {
      if (kinds[slot] === 0) continue;
      this.insert(
        { key: keys.subarray(slot * 4, slot * 4 + 4), exact: exact.subarray(slot * 2, slot * 2 + 2), hex: "" },
        KINDS[kinds[slot] - 1],
      );
    }
  }
}

interface Digest {
  /** MD5 of the collision key, as four 32-bit words. */
  key: Int32Array;
  /** The first 64 bits of the MD5 of the exact name (the key's own when they are the same text). */
  exact: Int32Array;
  hex: string;
}

function digest(rel: string): Digest {
  const key = collisionKey(rel);
  const k = crypto.createHash("md5").update(key).digest();
  const keyWords = new Int32Array(k.buffer.slice(k.byteOffset, k.byteOffset + 16));
  const exact = key === rel ? keyWords.subarray(0, 2) : md5Words(rel).subarray(0, 2);
  return { key: keyWords, exact, hex: k.toString("hex") };
}

function md5Words(text: string): Int32Array {
  const h = crypto.createHash("md5").update(text).digest();
  return new Int32Array(h.buffer.slice(h.byteOffset, h.byteOffset + 16));
}

const MANIFEST_ENTRY = "backup/manifest.json";
const MANIFEST_PATH_LIMIT = 1 << 20;
const YIELD_EVERY = 2000;
const breathe = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface ManifestCheck {
  /** The manifest's text, line by line (the body of backup/manifest.json). */
  lines: AsyncIterable<string[]>;
  index: EntryIndex;
  stored: StoredLog;
  /** The -wal/-shm names seen in backup/database/. */
  sidecars: readonly string[];
  /** Each matched entry that was written, with the manifest's (millisecond) mtime. */
  onMatched: (entry: ManifestFileEntry) => Promise<void> | void;
}

/** See the module comment. Returns the manifest without its entries. */
export async function checkManifest(c: ManifestCheck): Promise<ManifestSummary> {
  if (c.sidecars.length > 0) {
    refuse(
      "database",
      `it contains a stray database ${c.sidecars[0].replace("baluhost.db", "")} file (backup/database/${c.sidecars[0]}); BaluHost's own backups hold a self-contained database only`,
      `backup/database/${c.sidecars[0]}`,
    );
  }
  let stream;
  try {
    stream = await readManifestStream(c.lines, "The archive", checkManifestHead);
  } catch (err) {
    if (err instanceof ArchiveError) {
      const why = err.message.replace(/^.*? is not a valid backup: /, "");
      refuse("manifest", why.startsWith("its manifest") ? why : `its manifest is invalid: ${why}`, MANIFEST_ENTRY, err);
    }
    throw err;
  }
  const { head } = stream;
  const stored = new ItemCursor(c.stored.entries());

  const totals = emptyTotals();
  const parts = { database: false, files: false, config: false };
  let i = 0;
  try {
    for await (const entries of streamEntries(stream.entries)) {
      for (const e of entries) {
        if (++i % YIELD_EVERY === 0) await breathe();
        checkListedPath(e.path, e.type);
        addToTotals(totals, e);
        const part = e.path.split("/")[0] as keyof typeof parts;
        if (part === "database" || part === "files" || part === "config") parts[part] = true;
        const name = `backup/${e.path}`;
        if (!e.in_archive) {
          if (e.type !== "file") refuse("manifest", `its manifest lists the ${e.type} ${quoteName(name)} as not stored, which only files can be`, name);
          if (c.index.has(e.path)) refuse("manifest", `the manifest says ${quoteName(name)} is not stored in this archive, but it is`, name);
          c.index.addListed(e.path, name);
          continue;
        }
        const found = await stored.next();
        if (!found || found.rel !== e.path) {
          if (c.index.has(e.path)) refuse("manifest", `the manifest lists ${quoteName(name)} in another place than the archive holds it (the order differs)`, name);
          refuse("manifest", `the manifest lists ${quoteName(name)}, but the archive does not contain it`, name);
        }
        if (found.kind !== e.type) refuse("manifest", `${quoteName(name)} is a ${describeKind(found.kind)} in the archive but a ${e.type} in the manifest`, name);
        if (e.type === "file") {
          if (found.size !== e.size) {
            refuse("manifest", `${quoteName(name)} has ${found.size} bytes in the archive but ${e.size} in the manifest (size mismatch)`, name);
          }
          if (found.sha256 !== e.sha256) refuse("manifest", `the content of ${quoteName(name)} does not match its SHA-256 checksum in the manifest`, name);
        } else if (e.type === "symlink" && found.linkTarget !== e.link_target) {
          refuse("manifest", `the symlink ${quoteName(name)} points to ${quoteName(found.linkTarget ?? "")} but the manifest says ${quoteName(e.link_target ?? "")}`, name);
        }
        if (found.written) await c.onMatched(e);
      }
    }
    const unlisted = await stored.next();
    if (unlisted) {
      const name = `backup/${unlisted.rel}`;
      refuse("manifest", `the archive contains ${quoteName(name)}, which its manifest does not list`, name);
    }
  } finally {
    await stream.close();
    await stored.close();
  }
  for (const key of Object.keys(totals) as Array<keyof typeof totals>) {
    if (totals[key] !== head.totals[key]) {
      refuse("manifest", `its manifest's totals disagree with its entries (${key}: ${head.totals[key]} stated, ${totals[key]} listed)`, MANIFEST_ENTRY);
    }
  }
  if (head.includes.database !== parts.database) {
    refuse(
      "manifest",
      head.includes.database ? "its manifest says it includes the database but lists none" : "it contains a database its manifest says it does not include",
      "backup/database/baluhost.db",
    );
  }
  for (const part of ["files", "config"] as const) {
    if (!head.includes[part] && parts[part]) {
      refuse("manifest", `it contains ${part}/ entries although its manifest says it does not include ${part}`, `backup/${part}/`);
    }
  }
  return head;
}

/** Entry errors of the stream (bad JSON, bad shape) as refusals naming the manifest. */
async function* streamEntries(entries: AsyncIterable<ManifestFileEntry[]>): AsyncGenerator<ManifestFileEntry[]> {
  try {
    for await (const batch of entries) yield batch;
  } catch (err) {
    if (err instanceof ArchiveError) refuse("manifest", err.message.replace(/^.*? is not a valid backup: /, ""), MANIFEST_ENTRY, err);
    throw err;
  }
}

/** The checks that must name their own problem before the general shape check runs. */
function checkManifestHead(head: Record<string, unknown>): void {
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

function describeKind(kind: string): string {
  return kind === "dir" ? "folder" : kind;
}
