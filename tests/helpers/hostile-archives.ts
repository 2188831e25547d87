/**
 * Builders for test archives, valid and hostile. Tar headers are written byte by byte here
 * (with correct checksums unless told otherwise) so a test can produce exactly the malformed
 * thing it needs, which no well-behaved tar tool would write; gzip comes from zlib.
 *
 * - tarEntry / tarArchive / gz / indexedGz: raw building blocks (gz: one plain gzip stream, as
 *   GNU tar and archives from before the block index; indexedGz: our writer's indexed members).
 * - ourArchive: an archive in BaluHost's layout with a matching manifest (computed here, so a
 *   test can tamper with the manifest or the bodies independently).
 * - hostileCases(): one archive per hostile class, with the limits to read it with and what
 *   the refusal must say.
 */
import crypto from "node:crypto";
import zlib from "node:zlib";
import { GzipBlockWriter } from "@/server/backup/archive/gzip-blocks";
import { computeTotals, serializeManifest } from "@/server/backup/archive/manifest";
import { paxRecord } from "@/server/backup/archive/tar-header";
import type { BackupManifest, ManifestFileEntry } from "@/server/backup/archive";
import type { ArchiveProblem, ExtractLimits } from "@/server/backup/restore/extract";

const BLOCK = 512;
const MTIME = 1_700_000_000; // seconds

export interface RawEntry {
  /** Full name in the archive; names over 100 bytes get a PAX path record automatically. */
  name: string;
  /** The typeflag character: "0" file (default), "1" hard link, "2" symlink, "3" char device, "5" dir, "6" FIFO, "7" contiguous... */
  type?: string;
  body?: Buffer | string;
  /** The size written in the header (default: the body's length). */
  size?: number;
  linkname?: string;
  mode?: number;
  /** Seconds since the epoch. */
  mtime?: number;
  /** Records for a PAX header ('x') emitted right before this entry. */
  pax?: Record<string, string>;
  /** Exact bytes for the 100-byte name field (overrides `name` there; e.g. to hide a NUL). */
  rawName?: Buffer;
  /** Write a wrong header checksum. */
  badChecksum?: boolean;
  /** The ustar name prefix field (bytes 345-500). */
  prefix?: string;
}

/** One ustar header block. */
export function tarHeader(h: {
  name: Buffer;
  type: string;
  size: number;
  mode: number;
  mtime: number;
  linkname?: string;
  badChecksum?: boolean;
  prefix?: string;
}): Buffer {
  const b = Buffer.alloc(BLOCK);
  h.name.copy(b, 0, 0, Math.min(100, h.name.length));
  octal(b, 100, 8, h.mode);
  octal(b, 108, 8, 0);
  octal(b, 116, 8, 0);
  octal(b, 124, 12, h.size);
  octal(b, 136, 12, h.mtime);
  b.write(h.type, 156, 1, "latin1");
  if (h.linkname) Buffer.from(h.linkname, "utf8").copy(b, 157, 0, 100);
  b.write("ustar\u000000", 257, 8, "latin1");
  if (h.prefix) Buffer.from(h.prefix, "utf8").copy(b, 345, 0, 155);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i];
  if (h.badChecksum) sum += 1;
  b.write(sum.toString(8).padStart(6, "0") + "\u0000 ", 148, 8, "latin1");
  return b;
}

function octal(b: Buffer, off: number, len: number, value: number): void {
  b.write(Math.floor(value).toString(8).padStart(len - 1, "0") + "\u0000", off, len, "latin1");
}

function padTo512(buf: Buffer): Buffer {
  const pad = (BLOCK - (buf.length % BLOCK)) % BLOCK;
  return pad ? Buffer.concat([buf, Buffer.alloc(pad)]) : buf;
}

/** Header(s), body and padding of one entry. */
export function tarEntry(e: RawEntry): Buffer {
  const body = e.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(e.body) ? e.body : Buffer.from(e.body, "utf8");
  const nameBytes = Buffer.from(e.name, "utf8");
  const pax = { ...(e.pax ?? {}) };
  if (nameBytes.length > 100 && pax.path === undefined) pax.path = e.name;
  const parts: Buffer[] = [];
  if (Object.keys(pax).length > 0) {
    const paxBody = Buffer.from(Object.entries(pax).map(([k, v]) => paxRecord(k, v)).join(""), "utf8");
    parts.push(tarHeader({ name: Buffer.from("backup/PaxHeaders/x"), type: "x", size: paxBody.length, mode: 0o644, mtime: MTIME }));
    parts.push(padTo512(paxBody));
  }
  parts.push(
    tarHeader({
      name: e.rawName ?? nameBytes,
      type: e.type ?? "0",
      size: e.size ?? body.length,
      mode: e.mode ?? (e.type === "5" ? 0o755 : 0o644),
      mtime: e.mtime ?? MTIME,
      linkname: e.linkname,
      badChecksum: e.badChecksum,
      prefix: e.prefix,
    }),
  );
  if (body.length > 0) parts.push(padTo512(body));
  return Buffer.concat(parts);
}

/** A whole tar stream: entries, the end-of-archive marker (unless `end: false`), then `after`. */
export function tarArchive(entries: RawEntry[], opts: { end?: boolean; after?: Buffer } = {}): Buffer {
  const parts = entries.map(tarEntry);
  if (opts.end !== false) parts.push(Buffer.alloc(2 * BLOCK));
  if (opts.after) parts.push(opts.after);
  return Buffer.concat(parts);
}

export function gz(data: Buffer, level = 6): Buffer {
  return zlib.gzipSync(data, { level });
}

/** `data` as our archive writer compresses it: one indexed gzip member per block, stored or deflated. */
export async function indexedGz(data: Buffer, blockSize = 64 * 1024): Promise<Buffer> {
  const out: Buffer[] = [];
  const w = new GzipBlockWriter({ write: async (chunks) => void out.push(Buffer.concat(chunks)), blockSize });
  for (let off = 0; off < data.length; off += blockSize) await w.push(data.subarray(off, off + blockSize));
  await w.finish();
  return Buffer.concat(out);
}

export function sha256(data: Buffer | string): string {
  return crypto.createHash("sha256").update(data).digest("hex");
}

/** An item of ourArchive, by path relative to backup/ ("files/a.txt"). */
export interface OurItem {
  path: string;
  type?: "file" | "dir" | "symlink";
  content?: Buffer | string;
  target?: string;
  mode?: number;
}

export interface OurArchiveOptions {
  /** Include backup/database/baluhost.db with this content. */
  database?: Buffer | string;
  /** Change the manifest before it is written (the entries and bodies are already fixed). */
  mutateManifest?: (m: BackupManifest) => void;
  /** Change an item's body after the manifest was computed (tampering). */
  tamper?: (path: string, body: Buffer) => Buffer;
  /** Raw entries added right before the manifest (and not listed in it). */
  extra?: RawEntry[];
  /** Put the manifest somewhere other than last: raw entries added after it. */
  afterManifest?: RawEntry[];
}

/** An archive in BaluHost's layout with a correct manifest (before any mutation). */
export function ourArchive(items: OurItem[], opts: OurArchiveOptions = {}): Buffer {
  return gz(ourTar(items, opts));
}

/** The tar stream of ourArchive, uncompressed. */
export function ourTar(items: OurItem[], opts: OurArchiveOptions = {}): Buffer {
  const raw: RawEntry[] = [{ name: "backup/", type: "5" }];
  const listed: ManifestFileEntry[] = [];
  const mtimeMs = MTIME * 1000 + 123; // manifests keep milliseconds; headers whole seconds
  if (opts.database !== undefined) {
    const body = Buffer.from(opts.database);
    raw.push({ name: "backup/database/", type: "5" });
    raw.push({ name: "backup/database/baluhost.db", body });
    listed.push({ path: "database/baluhost.db", type: "file", size: body.length, mtime: mtimeMs, mode: 0o644, sha256: sha256(body), in_archive: true });
  }
  const parts = new Set(items.map((i) => i.path.split("/")[0]));
  for (const part of ["files", "config"]) {
    if (!parts.has(part)) continue;
    raw.push({ name: `backup/${part}/`, type: "5" });
    for (const item of items.filter((i) => i.path.startsWith(`${part}/`))) {
      const type = item.type ?? "file";
      const mode = item.mode ?? (type === "dir" ? 0o755 : 0o644);
      if (type === "dir") {
        raw.push({ name: `backup/${item.path}/`, type: "5", mode });
        listed.push({ path: item.path, type: "dir", size: 0, mtime: mtimeMs, mode, in_archive: true });
      } else if (type === "symlink") {
        raw.push({ name: `backup/${item.path}`, type: "2", linkname: item.target, mode: 0o777 });
        listed.push({ path: item.path, type: "symlink", size: Buffer.byteLength(item.target ?? ""), mtime: mtimeMs, mode: 0o777, link_target: item.target, in_archive: true });
      } else {
        const body = Buffer.from(item.content ?? "");
        const stored = opts.tamper ? opts.tamper(item.path, body) : body;
        raw.push({ name: `backup/${item.path}`, body: stored, mode });
        listed.push({ path: item.path, type: "file", size: body.length, mtime: mtimeMs, mode, sha256: sha256(body), in_archive: true });
      }
    }
  }
  raw.push(...(opts.extra ?? []));
  const manifest: BackupManifest = {
    format: "baluhost-backup",
    format_version: 1,
    app_version: "0.1.0",
    migration_level: 1,
    backup_type: opts.database !== undefined ? "full" : "files_only",
    parent: null,
    created_at: "2025-01-01T12:00:00.000Z",
    includes: { database: opts.database !== undefined, files: parts.has("files"), config: parts.has("config") },
    entries: listed,
    totals: computeTotals(listed),
  };
  opts.mutateManifest?.(manifest);
  raw.push({ name: "backup/manifest.json", body: serializeManifest(manifest) });
  raw.push(...(opts.afterManifest ?? []));
  return tarArchive(raw);
}

/** A few files to make otherwise-valid archives look real. */
export const SAMPLE_ITEMS: OurItem[] = [
  { path: "files/docs", type: "dir" },
  { path: "files/docs/a.txt", content: "hello\n" },
  { path: "files/docs/b.txt", content: "world\n" },
];

export interface HostileCase {
  name: string;
  archive: Buffer;
  limits?: Partial<ExtractLimits>;
  problem: ArchiveProblem;
  /** What the refusal's message must match (besides the generic guidance). */
  message: RegExp;
}

const root = (extra: RawEntry[]): RawEntry[] => [{ name: "backup/", type: "5" }, { name: "backup/files/", type: "5" }, ...extra];

/** One archive per hostile class. Each must be refused; none may write outside its destinations. */
export function hostileCases(): HostileCase[] {
  const valid = ourArchive(SAMPLE_ITEMS);
  const zeros = Buffer.alloc(8 * 1024 * 1024);
  const cases: HostileCase[] = [
    { name: "../ traversal", archive: gz(tarArchive(root([{ name: "backup/files/../../../escaped.txt", body: "x" }]))), problem: "path", message: /"\.\." segment.*escaped\.txt|escaped\.txt.*"\.\." segment/ },
    { name: "absolute path", archive: gz(tarArchive([{ name: "/tmp/baluhost-absolute.txt", body: "x" }])), problem: "path", message: /absolute path/ },
    { name: "backslash path", archive: gz(tarArchive(root([{ name: "backup/files/..\\..\\evil.txt", body: "x" }]))), problem: "path", message: /backslash/ },
    { name: "drive letter", archive: gz(tarArchive([{ name: "C:/Windows/evil.txt", body: "x" }])), problem: "path", message: /drive letter/ },
    {
      name: "NUL in name",
      archive: gz(tarArchive(root([{ name: "backup/files/a", rawName: Buffer.from("backup/files/a\u0000/../../../etc/passwd"), body: "x" }]))),
      problem: "path",
      message: /NUL byte/,
    },
    {
      name: "PAX path override to ../x",
      archive: gz(tarArchive(root([{ name: "backup/files/harmless.txt", pax: { path: "backup/files/../../x" }, body: "x" }]))),
      problem: "path",
      message: /backup\/files\/\.\.\/\.\.\/x.*"\.\." segment/,
    },
    {
      name: "PAX path override outside backup/",
      archive: gz(tarArchive(root([{ name: "backup/files/harmless.txt", pax: { path: "../x" }, body: "x" }]))),
      problem: "path",
      message: /"\.\.\/x"/,
    },
    {
      name: "PAX path with NUL",
      archive: gz(tarArchive(root([{ name: "backup/files/harmless.txt", pax: { path: "backup/files/a\u0000../../x" }, body: "x" }]))),
      problem: "path",
      message: /NUL byte/,
    },
    {
      name: "GNU long-name override to ../x",
      archive: gz(tarArchive(root([{ name: "././@LongLink", type: "L", body: "backup/files/../../x\u0000" }, { name: "backup/files/harmless.txt", body: "x" }]))),
      problem: "path",
      message: /"backup\/files\/\.\.\/\.\.\/x" has a "\.\." segment/,
    },
    {
      name: "PAX linkpath override to /etc",
      archive: gz(tarArchive(root([{ name: "backup/files/link", type: "2", linkname: "ok", pax: { linkpath: "/etc" } }]))),
      problem: "type",
      message: /points to "\/etc", an absolute path/,
    },
    {
      name: "too many extension headers in a row",
      archive: gz(tarArchive(root([...Array.from({ length: 9 }, () => ({ name: "backup/PaxHeaders/x", type: "x", body: "19 comment=padding\n" })), { name: "backup/files/a.txt", body: "x" }]))),
      problem: "corrupt",
      message: /more than 8 extension headers in a row/,
    },
    {
      name: "global PAX header setting the path",
      archive: gz(tarArchive(root([{ name: "backup/PaxHeaders/g", type: "g", body: "23 path=backup/files/x\n" }, { name: "backup/files/a.txt", body: "x" }]))),
      problem: "corrupt",
      message: /global PAX header .* sets "path"/,
    },
    {
      name: "PAX path together with a ustar prefix",
      archive: gz(tarArchive(root([{ name: "a.txt", prefix: "backup/files", pax: { path: "x.txt" }, body: "x" }]))),
      problem: "corrupt",
      message: /both a PAX path and a ustar name prefix/,
    },
    { name: "folder entry with a body", archive: gz(tarArchive(root([{ name: "backup/files/dir/", type: "5", body: "hidden header?" }]))), problem: "corrupt", message: /folder entry "backup\/files\/dir\/" declares a body/ },
    { name: "symlink entry with a body", archive: gz(tarArchive(root([{ name: "backup/files/l", type: "2", linkname: "a", body: "x" }]))), problem: "corrupt", message: /symlink entry "backup\/files\/l" declares a body/ },
    { name: "symlink from config/ into files/", archive: gz(tarArchive([{ name: "backup/", type: "5" }, { name: "backup/config/", type: "5" }, { name: "backup/config/l", type: "2", linkname: "../files/secret" }])), problem: "type", message: /outside the backed-up folder/ },
    { name: "symlink to /etc", archive: gz(tarArchive(root([{ name: "backup/files/etc", type: "2", linkname: "/etc" }]))), problem: "type", message: /"backup\/files\/etc" points to "\/etc", an absolute path/ },
    {
      name: "symlink to ../../x",
      archive: gz(tarArchive(root([{ name: "backup/files/a/", type: "5" }, { name: "backup/files/a/link", type: "2", linkname: "../../x" }]))),
      problem: "type",
      message: /"backup\/files\/a\/link" points to "\.\.\/\.\.\/x", which is outside/,
    },
    {
      name: "symlink with .. after a name",
      archive: gz(tarArchive(root([{ name: "backup/files/link", type: "2", linkname: "sub/../other" }]))),
      problem: "type",
      message: /only leading "\.\.\/" is allowed/,
    },
    {
      name: "file written through a symlink",
      archive: gz(tarArchive(root([{ name: "backup/files/sub/", type: "5" }, { name: "backup/files/link", type: "2", linkname: "sub" }, { name: "backup/files/link/x", body: "through" }]))),
      problem: "type",
      message: /"backup\/files\/link\/x" would be written through the symlink "backup\/files\/link"/,
    },
    { name: "hardlink to /etc/passwd", archive: gz(tarArchive(root([{ name: "backup/files/passwd", type: "1", linkname: "/etc/passwd" }]))), problem: "type", message: /hard link.*\/etc\/passwd/ },
    { name: "hardlink inside the tree", archive: gz(tarArchive(root([{ name: "backup/files/a", body: "a" }, { name: "backup/files/b", type: "1", linkname: "backup/files/a" }]))), problem: "type", message: /"backup\/files\/b" is a hard link/ },
    { name: "character device", archive: gz(tarArchive(root([{ name: "backup/files/null", type: "3" }]))), problem: "type", message: /"backup\/files\/null" is a device file/ },
    { name: "block device", archive: gz(tarArchive(root([{ name: "backup/files/sda", type: "4" }]))), problem: "type", message: /device file/ },
    { name: "FIFO", archive: gz(tarArchive(root([{ name: "backup/files/pipe", type: "6" }]))), problem: "type", message: /"backup\/files\/pipe" is a FIFO/ },
    { name: "contiguous file", archive: gz(tarArchive(root([{ name: "backup/files/c", type: "7", body: "c" }]))), problem: "type", message: /contiguous file/ },
    { name: "unknown type", archive: gz(tarArchive(root([{ name: "backup/files/s", type: "S", body: "s" }]))), problem: "type", message: /unsupported tar type/ },
    { name: "duplicate path", archive: gz(tarArchive(root([{ name: "backup/files/a.txt", body: "1" }, { name: "backup/files/a.txt", body: "2" }]))), problem: "duplicate", message: /"backup\/files\/a\.txt" twice/ },
    {
      name: "NFC/NFD collision",
      archive: gz(tarArchive(root([{ name: "backup/files/caf\u00e9.txt", body: "1" }, { name: "backup/files/cafe\u0301.txt", body: "2" }]))),
      problem: "duplicate",
      message: /"backup\/files\/caf[^"]+\.txt" and "backup\/files\/caf[^"]+\.txt" have names that differ only in Unicode normalisation/,
    },
    { name: "case collision", archive: gz(tarArchive(root([{ name: "backup/files/A.txt", body: "1" }, { name: "backup/files/a.txt", body: "2" }]))), problem: "duplicate", message: /"backup\/files\/A\.txt" and "backup\/files\/a\.txt" have names that differ only in upper\/lower case/ },
    {
      name: "case collision of a folder",
      archive: gz(tarArchive(root([{ name: "backup/files/Docs/", type: "5" }, { name: "backup/files/docs/x.txt", body: "1" }]))),
      problem: "duplicate",
      message: /"backup\/files\/docs\/x\.txt" is inside "backup\/files\/docs", a folder whose name and that of "backup\/files\/Docs" differ only in upper\/lower case/,
    },
    { name: "file inside a file", archive: gz(tarArchive(root([{ name: "backup/files/a", body: "1" }, { name: "backup/files/a/b", body: "2" }]))), problem: "duplicate", message: /inside "backup\/files\/a", which is a file/ },
    {
      name: "stray -wal in our own archive",
      archive: ourArchive(SAMPLE_ITEMS, { database: "SQLite format 3\u0000", extra: [{ name: "backup/database/baluhost.db-wal", body: "wal" }] }),
      problem: "database",
      message: /stray database -wal/,
    },
    { name: "-wal without a database", archive: gz(tarArchive([{ name: "backup/", type: "5" }, { name: "backup/database/", type: "5" }, { name: "backup/database/baluhost.db-wal", body: "wal" }])), problem: "database", message: /baluhost\.db-wal but no/ },
    { name: "other file in database/", archive: gz(tarArchive([{ name: "backup/", type: "5" }, { name: "backup/database/other.db", body: "x" }])), problem: "layout", message: /"backup\/database\/other\.db" does not belong/ },
    {
      name: "too many entries",
      archive: gz(tarArchive(root(Array.from({ length: 20 }, (_, i) => ({ name: `backup/files/f${i}.txt`, body: "x" }))))),
      limits: { maxEntries: 10 },
      problem: "limit",
      message: /more than 10 entries/,
    },
    { name: "total size over the limit", archive: gz(tarArchive(root([{ name: "backup/files/big.bin", body: crypto.randomBytes(200_000) }]))), limits: { maxTotalBytes: 100_000 }, problem: "limit", message: /more than 100000 bytes/ },
    { name: "declared size over the limit (no body)", archive: gz(tarArchive(root([{ name: "backup/files/huge.bin", size: 5 * 2 ** 30 }]), { end: false })), limits: { maxTotalBytes: 2 ** 30 }, problem: "limit", message: /more than 1073741824 bytes/ },
    { name: "gzip bomb", archive: gz(tarArchive(root([{ name: "backup/files/zeros.bin", body: zeros }])), 9), limits: { maxCompressionRatio: 50 }, problem: "limit", message: /decompression bomb/ },
    { name: "truncated gzip", archive: valid.subarray(0, Math.floor(valid.length / 2)), problem: "corrupt", message: /truncated/ },
    { name: "bit flip in the middle", archive: flipByte(valid, Math.floor(valid.length / 2)), problem: "corrupt", message: /damaged|truncated|checksum|not a tar/ },
    {
      name: "body changed, manifest not (checksum mismatch)",
      archive: ourArchive(SAMPLE_ITEMS, { tamper: (p, b) => (p === "files/docs/b.txt" ? Buffer.from("WORLD\n") : b) }),
      problem: "manifest",
      message: /content of "backup\/files\/docs\/b\.txt" does not match its SHA-256/,
    },
    {
      name: "size mismatch",
      archive: ourArchive(SAMPLE_ITEMS, { mutateManifest: (m) => void (m.entries.find((e) => e.path === "files/docs/a.txt")!.size = 7) }),
      problem: "manifest",
      message: /"backup\/files\/docs\/a\.txt" has 6 bytes in the archive but 7 in the manifest/,
    },
    {
      name: "file missing from the archive",
      archive: ourArchive(SAMPLE_ITEMS, { mutateManifest: (m) => void m.entries.push({ path: "files/docs/c.txt", type: "file", size: 1, mtime: 0, mode: 0o644, sha256: "0".repeat(64), in_archive: true }) }),
      problem: "manifest",
      message: /lists "backup\/files\/docs\/c\.txt", but the archive does not contain it/,
    },
    {
      name: "file not listed in the manifest",
      archive: ourArchive(SAMPLE_ITEMS, { extra: [{ name: "backup/files/docs/sneaky.txt", body: "x" }] }),
      problem: "manifest",
      message: /"backup\/files\/docs\/sneaky\.txt", which its manifest does not list/,
    },
    {
      name: "stored file the manifest says is not stored",
      archive: ourArchive(SAMPLE_ITEMS, { mutateManifest: (m) => void (m.entries.find((e) => e.path === "files/docs/a.txt")!.in_archive = false) }),
      problem: "manifest",
      message: /says "backup\/files\/docs\/a\.txt" is not stored in this archive, but it is/,
    },
    {
      name: "manifest listing the entries in another order than stored",
      archive: ourArchive(SAMPLE_ITEMS, { mutateManifest: (m) => void m.entries.reverse() }),
      problem: "manifest",
      message: /lists "backup\/files\/docs\/b\.txt" in another place than the archive holds it/,
    },
    {
      name: "manifest listing an unchanged file twice",
      archive: ourArchive(SAMPLE_ITEMS, {
        mutateManifest: (m) => {
          const unchanged = { path: "files/docs/c.txt", type: "file" as const, size: 1, mtime: 0, mode: 0o644, sha256: "0".repeat(64), in_archive: false };
          m.entries.push(unchanged, { ...unchanged });
        },
      }),
      problem: "manifest",
      message: /lists "backup\/files\/docs\/c\.txt" twice/,
    },
    {
      name: "totals disagree",
      archive: ourArchive(SAMPLE_ITEMS, { mutateManifest: (m) => void (m.totals.bytes += 1) }),
      problem: "manifest",
      message: /totals disagree/,
    },
    {
      name: "manifest format_version 2",
      archive: ourArchive(SAMPLE_ITEMS, { mutateManifest: (m) => void ((m as { format_version: number }).format_version = 2) }),
      problem: "version",
      message: /made by a newer BaluHost \(backup format version 2/,
    },
    {
      name: "manifest entry of the wrong shape",
      archive: ourArchive(SAMPLE_ITEMS, { mutateManifest: (m) => void (m.entries.find((e) => e.path === "files/docs/a.txt")!.sha256 = "not-a-hash") }),
      problem: "manifest",
      message: /invalid entry #2/,
    },
    {
      name: "manifest listing a path outside the layout",
      archive: ourArchive(SAMPLE_ITEMS, { mutateManifest: (m) => void (m.entries[0].path = "../etc") }),
      problem: "manifest",
      message: /lists the invalid path "\.\.\/etc"/,
    },
    { name: "manifest without created_at", archive: ourArchive(SAMPLE_ITEMS, { mutateManifest: (m) => void ((m as Partial<BackupManifest>).created_at = undefined) }), problem: "manifest", message: /invalid created_at/ },
    { name: "manifest not JSON", archive: gz(tarArchive(root([{ name: "backup/manifest.json", body: "{not json" }]))), problem: "manifest", message: /not valid JSON/ },
    { name: "manifest not last", archive: ourArchive(SAMPLE_ITEMS, { afterManifest: [{ name: "backup/files/late.txt", body: "x" }] }), problem: "layout", message: /comes after backup\/manifest\.json/ },
    { name: "garbage (not gzip)", archive: Buffer.from("this is not an archive, just some text\n".repeat(50)), problem: "corrupt", message: /not a gzip-compressed tar archive/ },
    { name: "gzip of garbage", archive: gz(Buffer.from("x".repeat(5000))), problem: "corrupt", message: /not a tar archive/ },
    { name: "gzip inside gzip", archive: gz(valid), problem: "corrupt", message: /not a tar archive/ },
    { name: "entry outside backup/", archive: gz(tarArchive([{ name: "etc/passwd", body: "root:x:0:0" }])), problem: "layout", message: /"etc\/passwd" is outside the backup\/ folder/ },
    { name: "unknown entry in backup/", archive: gz(tarArchive([{ name: "backup/", type: "5" }, { name: "backup/run.sh", body: "rm -rf /" }])), problem: "layout", message: /"backup\/run\.sh" is not part of a backup/ },
    { name: "bad header checksum", archive: gz(tarArchive(root([{ name: "backup/files/a.txt", body: "a", badChecksum: true }]))), problem: "corrupt", message: /checksum mismatch/ },
    { name: "missing end-of-archive marker", archive: gz(tarArchive(root([{ name: "backup/files/a.txt", body: "a" }]), { end: false })), problem: "corrupt", message: /without the end-of-archive marker/ },
    {
      name: "body shorter than its header says",
      archive: gz(tarArchive(root([{ name: "backup/files/a.txt", body: "a", size: 5000 }]), { end: false })),
      problem: "corrupt",
      message: /truncated: the body of "backup\/files\/a\.txt" is cut short/,
    },
    { name: "garbage after the end marker", archive: gz(tarArchive(root([{ name: "backup/files/a.txt", body: "a" }]), { after: Buffer.from("GARBAGE") })), problem: "corrupt", message: /unexpected data after the end-of-archive marker/ },
    { name: "data after the gzip stream", archive: Buffer.concat([gz(tarArchive(root([{ name: "backup/files/a.txt", body: "a" }]))), Buffer.alloc(64)]), problem: "corrupt", message: /after the end of the compressed stream/ },
    { name: "garbage after the gzip stream", archive: Buffer.concat([gz(tarArchive(root([{ name: "backup/files/a.txt", body: "a" }]))), Buffer.from("GARBAGE")]), problem: "corrupt", message: /compressed data is damaged/ },
    {
      name: "lone zero block",
      archive: gz(Buffer.concat([tarArchive(root([]), { end: false }), Buffer.alloc(512), tarArchive([{ name: "backup/files/hidden.txt", body: "x" }])])),
      problem: "corrupt",
      message: /lone zero block/,
    },
    { name: "name longer than the limit", archive: gz(tarArchive(root([{ name: `backup/files/${"d/".repeat(40)}file.txt`, body: "x" }]))), limits: { maxPathBytes: 64 }, problem: "path", message: /longer than 64 bytes/ },
    { name: "name not UTF-8", archive: gz(tarArchive(root([{ name: "backup/files/x", rawName: Buffer.from([...Buffer.from("backup/files/caf"), 0xe9, ...Buffer.from(".txt")]), body: "x" }]))), problem: "path", message: /not valid UTF-8/ },
    { name: "empty segment", archive: gz(tarArchive(root([{ name: "backup/files//a.txt", body: "x" }]))), problem: "path", message: /empty path segment/ },
    { name: "dot segment", archive: gz(tarArchive(root([{ name: "backup/files/./a.txt", body: "x" }]))), problem: "path", message: /"\." segment/ },
    { name: "empty archive", archive: gz(tarArchive([])), problem: "corrupt", message: /contains no entries/ },
  ];
  return cases;
}

function flipByte(buf: Buffer, at: number): Buffer {
  const out = Buffer.from(buf);
  out[at] ^= 0x55;
  return out;
}
