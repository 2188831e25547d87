/**
 * Encodes tar headers (POSIX ustar, with a PAX extended header when a field does not fit).
 * Written by hand rather than with npm tar's Header so that the hot path allocates one buffer
 * per entry and nothing else, and so that exactly the fields we mean are set:
 * uid/gid 0, no user or group names, permission bits, whole-second mtime in the ustar field.
 *
 * A PAX header is added only when needed: a path or link target longer than 100 bytes or not
 * plain ASCII (PAX strings are UTF-8 by definition), a size of 8 GiB or more, or an mtime
 * outside 0..8^11-1 seconds. GNU tar, bsdtar and npm tar all read these.
 */

export const TAR_BLOCK = 512;

export interface TarEntryHeader {
  /** Full path in the archive, without a trailing slash (one is added for directories). */
  path: string;
  type: "file" | "dir" | "symlink";
  size: number;
  mode: number;
  mtimeMs: number;
  linkTarget?: string;
}

const TYPEFLAG = { file: 0x30 /* '0' */, dir: 0x35 /* '5' */, symlink: 0x32 /* '2' */ } as const;
const MAX_OCTAL_11 = 0o77777777777; // 8 GiB - 1: the largest value of a 12-byte octal field
const PAX_TYPEFLAG = 0x78; // 'x'

/**
 * The header block(s) for one entry: 512 bytes, or 512 + PAX header + PAX body padded to 512.
 * When `scratch` (512 bytes) is given and no PAX header is needed, the header is encoded into it
 * and it is returned: the common case then allocates nothing.
 */
export function encodeTarHeader(h: TarEntryHeader, scratch?: Buffer): Buffer {
  const name = h.type === "dir" ? h.path + "/" : h.path;
  const size = h.type === "file" ? h.size : 0;
  const mtimeSec = Math.floor(h.mtimeMs / 1000);
  const link = h.type === "symlink" ? (h.linkTarget ?? "") : "";

  const pax: Array<[string, string]> = [];
  if (name.length > 100 || !isAscii(name)) pax.push(["path", name]);
  if (link.length > 100 || !isAscii(link)) pax.push(["linkpath", link]);
  if (size > MAX_OCTAL_11) pax.push(["size", String(size)]);
  if (mtimeSec < 0 || mtimeSec > MAX_OCTAL_11) pax.push(["mtime", formatPaxTime(h.mtimeMs)]);
  const fields = {
    name,
    mode: h.mode & 0o7777,
    size,
    mtimeSec: Math.min(Math.max(mtimeSec, 0), MAX_OCTAL_11),
    typeflag: TYPEFLAG[h.type],
    link,
  };
  if (pax.length === 0) {
    const b = scratch ?? Buffer.allocUnsafe(TAR_BLOCK);
    ustarBlock(b, 0, fields);
    return b;
  }

  const body = Buffer.from(pax.map(([k, v]) => paxRecord(k, v)).join(""), "utf8");
  const out = Buffer.allocUnsafe(TAR_BLOCK + padded(body.length) + TAR_BLOCK);
  ustarBlock(out, 0, { ...fields, name: paxHeaderName(name), mode: 0o644, size: body.length, typeflag: PAX_TYPEFLAG, link: "" });
  body.copy(out, TAR_BLOCK);
  out.fill(0, TAR_BLOCK + body.length, TAR_BLOCK + padded(body.length));
  ustarBlock(out, TAR_BLOCK + padded(body.length), fields);
  return out;
}

/** Rounds a byte count up to whole 512-byte blocks. */
export function padded(n: number): number {
  return Math.ceil(n / TAR_BLOCK) * TAR_BLOCK;
}

/** The two zero blocks that end a tar stream. */
export function endOfArchive(): Buffer {
  return Buffer.alloc(2 * TAR_BLOCK);
}

function ustarBlock(
  b: Buffer,
  at: number,
  f: { name: string; mode: number; size: number; mtimeSec: number; typeflag: number; link: string },
): void {
  b.fill(0, at, at + TAR_BLOCK);
  // Names that need PAX still get a best-effort ustar value (truncated at a character), as GNU tar does.
  b.write(f.name, at, 100, "utf8");
  octal(b, at + 100, 8, f.mode);
  octal(b, at + 108, 8, 0); // uid
  octal(b, at + 116, 8, 0); // gid
  if (f.size > MAX_OCTAL_11) base256(b, at + 124, 12, f.size);
  else octal(b, at + 124, 12, f.size);
  octal(b, at + 136, 12, f.mtimeSec);
  b[at + 156] = f.typeflag;
  if (f.link) b.write(f.link, at + 157, 100, "utf8");
  b.write("ustar\u000000", at + 257, 8, "latin1");
  octal(b, at + 329, 8, 0); // devmajor
  octal(b, at + 337, 8, 0); // devminor
  // The checksum is computed with its own field read as eight spaces.
  b.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + TAR_BLOCK; i++) sum += b[i];
  b.write(sum.toString(8).padStart(6, "0") + "\u0000 ", at + 148, 8, "latin1");
}

/** An octal number, zero-padded, NUL-terminated, filling `len` bytes. */
function octal(b: Buffer, off: number, len: number, value: number): void {
  b.write(Math.floor(value).toString(8).padStart(len - 1, "0") + "\u0000", off, len, "latin1");
}

/** GNU's base-256 form for numbers too big for octal: high bit set, big-endian. */
function base256(b: Buffer, off: number, len: number, value: number): void {
  let v = BigInt(value);
  for (let i = off + len - 1; i > off; i--) {
    b[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  b[off] = 0x80;
}

/** "<len> <key>=<value>\n" where len counts the whole record, its own digits included. */
export function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  const restLen = Buffer.byteLength(rest, "utf8");
  let len = restLen + String(restLen).length;
  if (String(len).length !== String(restLen).length) len = restLen + String(len).length;
  return `${len}${rest}`;
}

function formatPaxTime(ms: number): string {
  const sec = ms / 1000;
  return Number.isInteger(sec) ? String(sec) : sec.toFixed(3);
}

function paxHeaderName(name: string): string {
  // Only informative (readers use the PAX body); keep it short, ASCII and inside backup/.
  const base = name.replace(/\/+$/, "").split("/").pop() ?? "";
  const ascii = base.replace(/[^\x20-\x7e]/g, "_").slice(0, 60);
  return `backup/PaxHeaders/${ascii}`;
}

function isAscii(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(s);
}
