/**
 * The age v1 header (https://age-encryption.org/v1): the version line, one stanza per
 * recipient, and a MAC over all of it:
 *
 *   age-encryption.org/v1
 *   -> X25519 <share>            or   -> scrypt <salt> <logN>
 *   <body, base64 without padding, 64 columns, the last line shorter (possibly empty)>
 *   --- <HMAC-SHA256(HKDF(file key, "", "header"), everything up to and including "---")>
 *
 * Parsing is strict (canonical base64, exact line wrapping, LF only), as the spec asks: a
 * header that age itself would refuse is refused here too. An scrypt stanza must be the only
 * one (so a passphrase and public keys cannot be mixed in one file; age refuses that too).
 */
import crypto from "node:crypto";
import { AgeError } from "./errors";
import {
  DEFAULT_SCRYPT_LOG_N,
  FILE_KEY_BYTES,
  MAX_SCRYPT_LOG_N,
  b64,
  parseIdentity,
  parseRecipient,
  unb64,
  unwrapScrypt,
  unwrapX25519,
  wrapScrypt,
  wrapX25519,
  type Stanza,
} from "./keys";

export const AGE_MAGIC = "age-encryption.org/v1\n";
/** Headers larger than this are refused (a stanza is ~120 bytes: that is hundreds of recipients). */
export const MAX_HEADER_BYTES = 64 * 1024;
const COLUMNS = 64;

/** Who can open an archive we write: a passphrase, or one or more public keys (not both: the format forbids it). */
export type AgeTarget = { passphrase: string; scryptLogN?: number } | { recipients: string[] };

/** What may open an archive: passphrases and/or identities (`AGE-SECRET-KEY-1…`), tried in turn. */
export interface AgeKeys {
  passphrases?: string[];
  identities?: string[];
}

export interface AgeHeader {
  stanzas: Stanza[];
  /** The header's bytes up to and including "---", which the MAC covers. */
  macInput: Buffer;
  mac: Buffer;
  /** Bytes of the whole header, including the MAC line: the payload's nonce starts here. */
  length: number;
}

/** How an archive is locked, for lists and messages (no secrets). */
export interface AgeLock {
  mode: "passphrase" | "recipients";
  /** The scrypt work factor (passphrase mode). */
  scryptLogN?: number;
  /** Number of X25519 stanzas (recipients mode); which keys they are cannot be read from the file. */
  recipientCount?: number;
}

export function isAgeHead(head: Buffer): boolean {
  return head.length >= AGE_MAGIC.length && head.toString("latin1", 0, AGE_MAGIC.length) === AGE_MAGIC;
}

/** A new file key and the header that locks it for `target`. */
export async function makeHeader(target: AgeTarget): Promise<{ header: Buffer; fileKey: Buffer }> {
  const fileKey = crypto.randomBytes(FILE_KEY_BYTES);
  let stanzas: Stanza[];
  if ("passphrase" in target) {
    if (target.passphrase.length === 0) throw new TypeError("makeHeader: empty passphrase");
    stanzas = [await wrapScrypt(fileKey, target.passphrase, target.scryptLogN ?? DEFAULT_SCRYPT_LOG_N)];
  } else {
    if (target.recipients.length === 0) throw new TypeError("makeHeader: no recipients");
    stanzas = target.recipients.map((r) => {
      const raw = parseRecipient(r);
      if (!raw) throw new TypeError(`makeHeader: not an age public key: ${r.slice(0, 12)}…`);
      return wrapX25519(fileKey, raw);
    });
  }
  let text = AGE_MAGIC;
  for (const s of stanzas) {
    text += `-> ${[s.type, ...s.args].join(" ")}\n`;
    const body = b64(s.body);
    for (let i = 0; i < body.length; i += COLUMNS) text += body.slice(i, i + COLUMNS) + "\n";
    if (body.length % COLUMNS === 0) text += "\n";
  }
  text += "---";
  const macInput = Buffer.from(text, "latin1");
  const mac = headerMac(fileKey, macInput);
  return { header: Buffer.concat([macInput, Buffer.from(` ${b64(mac)}\n`, "latin1")]), fileKey };
}

function headerMac(fileKey: Buffer, macInput: Buffer): Buffer {
  const key = Buffer.from(crypto.hkdfSync("sha256", fileKey, Buffer.alloc(0), "header", 32));
  return crypto.createHmac("sha256", key).update(macInput).digest();
}

function bad(message: string): never {
  throw new AgeError("HEADER_INVALID", `its age header is damaged or not valid (${message})`);
}

/**
 * Parses the header at the start of `head` (the first bytes of the file, at least the whole
 * header or MAX_HEADER_BYTES). Throws NOT_AGE when the file is not age at all.
 */
export function parseHeader(head: Buffer): AgeHeader {
  if (!isAgeHead(head)) throw new AgeError("NOT_AGE", "it is not an age-encrypted file");
  let pos = AGE_MAGIC.length;
  const line = (): string => {
    const nl = head.indexOf(0x0a, pos);
    if (nl < 0) bad(head.length >= MAX_HEADER_BYTES ? "it is too long" : "it ends early");
    const text = head.toString("latin1", pos, nl);
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x20 || c > 0x7e) bad("a header line has a character that is not printable ASCII");
    }
    pos = nl + 1;
    return text;
  };
  const stanzas: Stanza[] = [];
  for (;;) {
    const start = pos;
    const l = line();
    if (l.startsWith("--- ")) {
      const mac = unb64(l.slice(4));
      if (!mac || mac.length !== 32) bad("the MAC is not 32 bytes of canonical base64");
      return { stanzas, macInput: head.subarray(0, start + 3), mac, length: pos };
    }
    if (!l.startsWith("-> ")) bad("a line is neither a stanza nor the MAC");
    const [type, ...args] = l.slice(3).split(" ");
    if (!type || args.some((a) => a.length === 0)) bad("a stanza has an empty argument");
    const parts: Buffer[] = [];
    for (;;) {
      const bodyLine = line();
      if (bodyLine.length > COLUMNS) bad("a stanza body line is longer than 64 columns");
      const bytes = unb64(bodyLine);
      if (!bytes) bad("a stanza body is not canonical base64");
      parts.push(bytes);
      if (bodyLine.length < COLUMNS) break;
    }
    stanzas.push({ type, args, body: Buffer.concat(parts) });
  }
}

/** How the archive is locked; throws HEADER_INVALID for a combination we do not write or read. */
export function describeLock(header: AgeHeader): AgeLock {
  const scrypt = header.stanzas.filter((s) => s.type === "scrypt");
  const x25519 = header.stanzas.filter((s) => s.type === "X25519");
  if (scrypt.length > 0) {
    if (header.stanzas.length !== 1) bad("an scrypt stanza must be the only one");
    const [salt, logN] = scrypt[0].args;
    if (scrypt[0].args.length !== 2 || unb64(salt)?.length !== 16 || !/^[1-9][0-9]?$/.test(logN)) bad("the scrypt stanza is malformed");
    if (scrypt[0].body.length !== 32) bad("the scrypt stanza's body is not 32 bytes");
    return { mode: "passphrase", scryptLogN: Number(logN) };
  }
  if (x25519.length === 0) {
    bad(`it has no stanza this software can open (only ${[...new Set(header.stanzas.map((s) => s.type))].join(", ") || "none"}; we read scrypt and X25519)`);
  }
  for (const s of x25519) {
    if (s.args.length !== 1 || unb64(s.args[0])?.length !== 32 || s.body.length !== 32) bad("an X25519 stanza is malformed");
  }
  return { mode: "recipients", recipientCount: x25519.length };
}

/**
 * The file key, once one of `keys` opens a stanza and the header's MAC checks out. Throws
 * KEY_REQUIRED (nothing of the right kind was given), WRONG_PASSPHRASE / WRONG_IDENTITY, or
 * HEADER_INVALID (a key opened a stanza but the header was modified).
 */
export async function unlockHeader(header: AgeHeader, keys: AgeKeys): Promise<Buffer> {
  const lock = describeLock(header);
  let fileKey: Buffer | null = null;
  if (lock.mode === "passphrase") {
    const passphrases = keys.passphrases ?? [];
    if (passphrases.length === 0) {
      throw new AgeError("KEY_REQUIRED", "it is encrypted with a passphrase; give the passphrase to open it");
    }
    if (lock.scryptLogN! > MAX_SCRYPT_LOG_N) {
      bad(`its scrypt work factor 2^${lock.scryptLogN} is above the limit of 2^${MAX_SCRYPT_LOG_N}`);
    }
    for (const p of passphrases) {
      fileKey = await unwrapScrypt(header.stanzas[0], p);
      if (fileKey) break;
    }
    if (!fileKey) throw new AgeError("WRONG_PASSPHRASE", "wrong passphrase: it does not open this archive");
  } else {
    const identities = (keys.identities ?? []).map((i) => {
      const raw = parseIdentity(i);
      if (!raw) throw new AgeError("WRONG_IDENTITY", "the identity given is not an age secret key (AGE-SECRET-KEY-1…)");
      return raw;
    });
    if (identities.length === 0) {
      throw new AgeError("KEY_REQUIRED", "it is encrypted to age public keys; give a matching identity (AGE-SECRET-KEY-1…) to open it");
    }
    outer: for (const s of header.stanzas) {
      if (s.type !== "X25519") continue;
      for (const id of identities) {
        fileKey = unwrapX25519(s, id);
        if (fileKey) break outer;
      }
    }
    if (!fileKey) throw new AgeError("WRONG_IDENTITY", "none of the identities given is a recipient of this archive");
  }
  checkHeaderMac(header, fileKey);
  return fileKey;
}

/** Throws HEADER_INVALID unless `fileKey` is this header's and the header is unmodified. */
export function checkHeaderMac(header: AgeHeader, fileKey: Buffer): void {
  if (fileKey.length !== FILE_KEY_BYTES) bad("the file key is not 16 bytes");
  if (!crypto.timingSafeEqual(headerMac(fileKey, header.macInput), header.mac)) bad("its MAC does not match: the header was modified");
}
