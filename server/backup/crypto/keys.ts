/**
 * age keys and the two stanza types we speak (https://age-encryption.org/v1):
 *
 * - X25519: a recipient is `age1…` (bech32 of the 32-byte public key), an identity
 *   `AGE-SECRET-KEY-1…` (bech32 of the 32-byte private key). Wrapping uses an ephemeral key:
 *   wrap key = HKDF-SHA256(ikm = shared secret, salt = ephemeral share || recipient,
 *   info = "age-encryption.org/v1/X25519"), body = ChaCha20-Poly1305(wrap key, zero nonce, file key).
 * - scrypt: salt = "age-encryption.org/v1/scrypt" || 16 random bytes, N = 2^logN, r = 8, p = 1.
 *   When encrypting we use age's own default, logN 18; when decrypting we refuse more than
 *   MAX_SCRYPT_LOG_N (memory: 128 · r · N bytes, 1 GiB at 20), the "work factor limit" the
 *   spec asks decrypters to have.
 *
 * All of it is node:crypto (X25519, HKDF, scrypt, ChaCha20-Poly1305 are native).
 */
import crypto from "node:crypto";
import { promisify } from "node:util";
import { bech32Decode, bech32Encode } from "./bech32";

const scryptAsync = promisify(crypto.scrypt) as (pw: crypto.BinaryLike, salt: crypto.BinaryLike, len: number, opts: crypto.ScryptOptions) => Promise<Buffer>;

export const X25519_LABEL = "age-encryption.org/v1/X25519";
export const SCRYPT_LABEL = "age-encryption.org/v1/scrypt";
export const DEFAULT_SCRYPT_LOG_N = 18;
export const MAX_SCRYPT_LOG_N = 20;
export const FILE_KEY_BYTES = 16;
const ZERO_NONCE = Buffer.alloc(12);

export interface Stanza {
  type: string;
  args: string[];
  body: Buffer;
}

// --- key encoding ----------------------------------------------------------------------------

export function encodeRecipient(publicKey: Buffer): string {
  return bech32Encode("age", publicKey);
}

export function encodeIdentity(privateKey: Buffer): string {
  return bech32Encode("age-secret-key-", privateKey).toUpperCase();
}

/** The 32-byte public key of an `age1…` recipient, or null. */
export function parseRecipient(text: string): Buffer | null {
  const d = bech32Decode(text.trim());
  return d && d.hrp === "age" && d.bytes.length === 32 && text.trim() === text.trim().toLowerCase() ? d.bytes : null;
}

/** The 32-byte private key of an `AGE-SECRET-KEY-1…` identity, or null. */
export function parseIdentity(text: string): Buffer | null {
  const t = text.trim();
  const d = bech32Decode(t);
  return d && d.hrp === "age-secret-key-" && d.bytes.length === 32 && t === t.toUpperCase() ? d.bytes : null;
}

/**
 * The identities in an identity file as age-keygen writes it (`# comment` lines, blank lines,
 * one AGE-SECRET-KEY-1… per line). Throws on a line that is neither.
 */
export function parseIdentityFile(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (!parseIdentity(line)) throw new Error("the identity file has a line that is not an age secret key (AGE-SECRET-KEY-1…)");
    out.push(line);
  }
  if (out.length === 0) throw new Error("the identity file holds no age secret key (AGE-SECRET-KEY-1…)");
  return out;
}

// DER prefixes of a raw X25519 key in PKCS#8 and SPKI (RFC 8410).
const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b656e032100", "hex");

function privateKeyObject(raw: Buffer): crypto.KeyObject {
  return crypto.createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: "der", type: "pkcs8" });
}

function publicKeyObject(raw: Buffer): crypto.KeyObject {
  return crypto.createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });
}

function rawPublic(key: crypto.KeyObject): Buffer {
  return Buffer.from(key.export({ format: "jwk" }).x!, "base64url");
}

/** The public key of a private one. */
export function publicOf(privateRaw: Buffer): Buffer {
  return rawPublic(crypto.createPublicKey(privateKeyObject(privateRaw)));
}

/** A new key pair, as age-keygen makes one. */
export function generateIdentity(): { identity: string; recipient: string } {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("x25519");
  const d = Buffer.from(privateKey.export({ format: "jwk" }).d!, "base64url");
  return { identity: encodeIdentity(d), recipient: encodeRecipient(rawPublic(publicKey)) };
}

/** The recipient (public key) of an identity. */
export function recipientOfIdentity(identity: string): string {
  const raw = parseIdentity(identity);
  if (!raw) throw new Error("not an age secret key (AGE-SECRET-KEY-1…)");
  return encodeRecipient(publicOf(raw));
}

// --- wrapping --------------------------------------------------------------------------------

function seal(key: Buffer, plaintext: Buffer): Buffer {
  const c = crypto.createCipheriv("chacha20-poly1305", key, ZERO_NONCE, { authTagLength: 16 });
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
}

/** The opened body, or null when it does not authenticate under `key`. */
function open(key: Buffer, body: Buffer): Buffer | null {
  if (body.length !== FILE_KEY_BYTES + 16) return null;
  const d = crypto.createDecipheriv("chacha20-poly1305", key, ZERO_NONCE, { authTagLength: 16 });
  d.setAuthTag(body.subarray(FILE_KEY_BYTES));
  try {
    return Buffer.concat([d.update(body.subarray(0, FILE_KEY_BYTES)), d.final()]);
  } catch {
    return null;
  }
}

function hkdf(ikm: Buffer, salt: Buffer, info: string): Buffer {
  return Buffer.from(crypto.hkdfSync("sha256", ikm, salt, info, 32));
}

function x25519(privateRaw: Buffer | crypto.KeyObject, publicRaw: Buffer): Buffer | null {
  const privateKey = Buffer.isBuffer(privateRaw) ? privateKeyObject(privateRaw) : privateRaw;
  let shared: Buffer;
  try {
    shared = crypto.diffieHellman({ privateKey, publicKey: publicKeyObject(publicRaw) });
  } catch {
    return null; // Node refuses small-order points itself on some versions
  }
  return shared.every((b) => b === 0) ? null : shared;
}

export function wrapX25519(fileKey: Buffer, recipient: Buffer): Stanza {
  const eph = crypto.generateKeyPairSync("x25519");
  const share = rawPublic(eph.publicKey);
  const shared = x25519(eph.privateKey, recipient);
  if (!shared) throw new Error("the recipient is not a valid X25519 public key");
  const wrapKey = hkdf(shared, Buffer.concat([share, recipient]), X25519_LABEL);
  return { type: "X25519", args: [b64(share)], body: seal(wrapKey, fileKey) };
}

/** The file key from an X25519 stanza, or null when this identity is not its recipient. */
export function unwrapX25519(stanza: Stanza, identity: Buffer): Buffer | null {
  const share = Buffer.from(stanza.args[0], "base64");
  const shared = x25519(identity, share);
  if (!shared) return null;
  const wrapKey = hkdf(shared, Buffer.concat([share, publicOf(identity)]), X25519_LABEL);
  return open(wrapKey, stanza.body);
}

export async function wrapScrypt(fileKey: Buffer, passphrase: string, logN = DEFAULT_SCRYPT_LOG_N): Promise<Stanza> {
  const salt = crypto.randomBytes(16);
  const key = await scryptKey(passphrase, salt, logN);
  return { type: "scrypt", args: [b64(salt), String(logN)], body: seal(key, fileKey) };
}

/** The file key from an scrypt stanza, or null when the passphrase is not the one. */
export async function unwrapScrypt(stanza: Stanza, passphrase: string): Promise<Buffer | null> {
  const salt = Buffer.from(stanza.args[0], "base64");
  const key = await scryptKey(passphrase, salt, Number(stanza.args[1]));
  return open(key, stanza.body);
}

function scryptKey(passphrase: string, salt: Buffer, logN: number): Promise<Buffer> {
  const N = 2 ** logN;
  return scryptAsync(Buffer.from(passphrase, "utf8"), Buffer.concat([Buffer.from(SCRYPT_LABEL), salt]), 32, {
    N,
    r: 8,
    p: 1,
    maxmem: 128 * 8 * N + (32 << 20),
  });
}

/** Canonical base64 without padding, as age writes it. */
export function b64(buf: Buffer): string {
  return buf.toString("base64").replace(/=+$/, "");
}

/** Strict base64 without padding: null for any other spelling (padding, bad characters, non-zero trailing bits). */
export function unb64(text: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]*$/.test(text) || text.length % 4 === 1) return null;
  const buf = Buffer.from(text, "base64");
  return b64(buf) === text ? buf : null;
}
