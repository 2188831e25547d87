/**
 * The age format layer on its own: our encryption opened by Debian's `age`, `age`'s opened by
 * us, both modes, and every way a wrong key, a modified byte or a short file must be refused.
 */
import { execFileSync, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AGE_CHUNK,
  AgeError,
  AgePayloadReader,
  AgeStreamEncryptor,
  describeLock,
  fdRead,
  generateIdentity,
  parseHeader,
  parseIdentity,
  parseRecipient,
  plaintextPieces,
  recipientOfIdentity,
  sealedPayloadBytes,
  type AgeKeys,
  type AgeTarget,
} from "@/server/backup/crypto";
import { AgeWorkerEncryptor } from "@/server/backup/crypto/worker-encryptor";

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bh-age-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Encrypts `data` through the streaming encryptor, in writes of `piece` bytes. */
async function encrypt(target: AgeTarget, data: Buffer, piece = 300_000): Promise<Buffer> {
  const out: Buffer[] = [];
  const enc = await AgeStreamEncryptor.create(target, async (chunks) => {
    for (const c of chunks) out.push(Buffer.from(c));
  });
  for (let o = 0; o < data.length; o += piece) await enc.write([data.subarray(o, o + piece)]);
  const { sizeBytes, sha256 } = await enc.finish();
  const file = Buffer.concat(out);
  expect(sizeBytes).toBe(file.length);
  expect(sha256).toBe(crypto.createHash("sha256").update(file).digest("hex"));
  return file;
}

async function decrypt(file: Buffer, keys: AgeKeys): Promise<Buffer> {
  const p = path.join(dir, `in-${crypto.randomUUID()}.age`);
  fs.writeFileSync(p, file);
  const fd = fs.openSync(p, "r");
  try {
    const reader = await AgePayloadReader.open(fdRead(fd), file.length, keys);
    const parts: Buffer[] = [];
    for await (const piece of plaintextPieces(reader, 100_000)) parts.push(piece);
    return Buffer.concat(parts);
  } finally {
    fs.closeSync(fd);
  }
}

/** Byte equality without vitest's element-by-element diff (slow on megabytes). */
function expectSame(actual: Buffer, expected: Buffer): void {
  expect(actual.length).toBe(expected.length);
  expect(actual.equals(expected)).toBe(true);
}

async function rejection(p: Promise<unknown>): Promise<AgeError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(AgeError);
  return err as AgeError;
}

const PASS: AgeTarget = { passphrase: "correct horse battery staple", scryptLogN: 10 };
const PASS_KEYS: AgeKeys = { passphrases: ["correct horse battery staple"] };

describe("age keys", () => {
  it("generates key pairs whose encodings age-keygen agrees with", () => {
    const { identity, recipient } = generateIdentity();
    expect(identity).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]{58}$/);
    expect(recipient).toMatch(/^age1[0-9a-z]{58}$/);
    const keyFile = path.join(dir, "ours-key.txt");
    fs.writeFileSync(keyFile, `${identity}\n`);
    expect(execFileSync("age-keygen", ["-y", keyFile]).toString().trim()).toBe(recipient);
  });

  it("reads age-keygen's keys and derives the same public key", () => {
    const keyFile = path.join(dir, "their-key.txt");
    execFileSync("age-keygen", ["-o", keyFile], { stdio: "ignore" });
    const identity = fs.readFileSync(keyFile, "utf8").split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"))!;
    expect(recipientOfIdentity(identity)).toBe(execFileSync("age-keygen", ["-y", keyFile]).toString().trim());
  });

  it("refuses a key with a wrong checksum or the wrong case", () => {
    const { identity, recipient } = generateIdentity();
    const flipped = recipient.slice(0, -1) + (recipient.endsWith("q") ? "p" : "q");
    expect(parseRecipient(flipped)).toBeNull();
    expect(parseRecipient(recipient.toUpperCase())).toBeNull();
    expect(parseIdentity(identity.toLowerCase())).toBeNull();
    expect(parseRecipient(identity)).toBeNull();
  });
});

describe("round trip through our code", () => {
  it.each([
    ["empty", 0],
    ["one byte", 1],
    ["exactly one chunk", AGE_CHUNK],
    ["one chunk and a byte", AGE_CHUNK + 1],
    ["exactly three chunks", 3 * AGE_CHUNK],
    ["about 2.3 MB", 2_345_678],
  ])("passphrase mode: %s", async (_name, size) => {
    const data = crypto.randomBytes(size);
    const file = await encrypt(PASS, data, 70_001);
    const header = parseHeader(file);
    expect(file.length).toBe(header.length + sealedPayloadBytes(size));
    expectSame(await decrypt(file, PASS_KEYS), data);
  });

  it("recipients mode with two recipients: either identity opens it", async () => {
    const a = generateIdentity();
    const b = generateIdentity();
    const data = crypto.randomBytes(500_000);
    const file = await encrypt({ recipients: [a.recipient, b.recipient] }, data);
    expect(describeLock(parseHeader(file))).toEqual({ mode: "recipients", recipientCount: 2 });
    expectSame(await decrypt(file, { identities: [a.identity] }), data);
    expectSame(await decrypt(file, { identities: [generateIdentity().identity, b.identity] }), data);
  });

  it("reads any byte range of the plaintext without reading from the start", async () => {
    const data = crypto.randomBytes(1_000_000);
    const file = await encrypt(PASS, data);
    const p = path.join(dir, "range.age");
    fs.writeFileSync(p, file);
    const fd = fs.openSync(p, "r");
    try {
      const first = await AgePayloadReader.open(fdRead(fd), file.length, PASS_KEYS);
      // Opened again with the file key alone: no passphrase, no scrypt.
      const reader = await AgePayloadReader.withFileKey(fdRead(fd), file.length, first.fileKey);
      for (const [at, len] of [[700_000, 1000], [AGE_CHUNK - 3, 10], [0, 5], [999_990, 10], [123, 400_000]]) {
        const out = Buffer.alloc(len);
        await reader.readPlaintext(out, at);
        expectSame(out, data.subarray(at, at + len));
      }
      const wrong = await AgePayloadReader.withFileKey(fdRead(fd), file.length, crypto.randomBytes(16)).then(() => null, (e: unknown) => e);
      expect((wrong as AgeError).code).toBe("HEADER_INVALID");
    } finally {
      fs.closeSync(fd);
    }
  });
});

describe("interop with the age command line (Debian's age)", () => {
  it("age -d opens what we encrypt to a recipient", async () => {
    const keyFile = path.join(dir, "k1.txt");
    execFileSync("age-keygen", ["-o", keyFile], { stdio: "ignore" });
    const recipient = execFileSync("age-keygen", ["-y", keyFile]).toString().trim();
    const data = crypto.randomBytes(3 * AGE_CHUNK + 5);
    const p = path.join(dir, "ours.age");
    fs.writeFileSync(p, await encrypt({ recipients: [recipient] }, data));
    expectSame(execFileSync("age", ["-d", "-i", keyFile, p], { maxBuffer: 1 << 26 }), data);
  });

  it("age -d opens what we encrypt with a passphrase (scrypt)", async () => {
    const data = crypto.randomBytes(AGE_CHUNK * 2);
    const p = path.join(dir, "ours-pass.age");
    fs.writeFileSync(p, await encrypt(PASS, data));
    // age reads a passphrase from the terminal only: give it one with script(1).
    const out = path.join(dir, "ours-pass.out");
    const r = spawnSync("script", ["-qec", `age -d -o ${out} ${p}`, "/dev/null"], {
      input: "correct horse battery staple\n",
      timeout: 30_000,
    });
    expect(r.status).toBe(0);
    expectSame(fs.readFileSync(out), data);
  });

  it("we open what age -r encrypts, with the identity file's key", async () => {
    const keyFile = path.join(dir, "k2.txt");
    execFileSync("age-keygen", ["-o", keyFile], { stdio: "ignore" });
    const recipient = execFileSync("age-keygen", ["-y", keyFile]).toString().trim();
    const data = crypto.randomBytes(AGE_CHUNK * 4);
    const file = execFileSync("age", ["-r", recipient], { input: data, maxBuffer: 1 << 26 });
    const identity = fs.readFileSync(keyFile, "utf8").split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"))!;
    expectSame(await decrypt(file, { identities: [identity] }), data);
  });

  it("we open what age -p encrypts", async () => {
    const data = crypto.randomBytes(100_000);
    const plain = path.join(dir, "p-plain");
    const enc = path.join(dir, "p.age");
    fs.writeFileSync(plain, data);
    const r = spawnSync("script", ["-qec", `age -p -o ${enc} ${plain}`, "/dev/null"], {
      input: "pw-from-age\npw-from-age\n",
      timeout: 60_000,
    });
    expect(r.status).toBe(0);
    const file = fs.readFileSync(enc);
    expect(describeLock(parseHeader(file)).mode).toBe("passphrase");
    expectSame(await decrypt(file, { passphrases: ["pw-from-age"] }), data);
  });
});

describe("the encryptor's thread (used by the archive writer)", () => {
  it("writes a file that age -d opens, in the order the data was given, with its size and SHA-256", async () => {
    const keyFile = path.join(dir, "kw.txt");
    execFileSync("age-keygen", ["-o", keyFile], { stdio: "ignore" });
    const recipient = execFileSync("age-keygen", ["-y", keyFile]).toString().trim();
    const data = crypto.randomBytes(3 * 1024 * 1024 + 77);
    const p = path.join(dir, "worker.age");
    const fd = fs.openSync(p, "wx");
    try {
      const enc = await AgeWorkerEncryptor.create({ recipients: [recipient] }, fd);
      // Pieces of odd sizes, and a buffer reused after each write (as the gzip writer does).
      const scratch = Buffer.alloc(300_001);
      for (let o = 0; o < data.length; o += scratch.length) {
        const n = data.copy(scratch, 0, o, Math.min(o + scratch.length, data.length));
        await enc.write([scratch.subarray(0, n)]);
        scratch.fill(0xee);
      }
      const { sizeBytes, sha256 } = await enc.finish();
      const file = fs.readFileSync(p);
      expect(sizeBytes).toBe(file.length);
      expect(sha256).toBe(crypto.createHash("sha256").update(file).digest("hex"));
    } finally {
      fs.closeSync(fd);
    }
    expectSame(execFileSync("age", ["-d", "-i", keyFile, p], { maxBuffer: 1 << 26 }), data);
  });

  it("a full disk fails the write with ENOSPC", async () => {
    const fd = fs.openSync("/dev/full", "w");
    try {
      const enc = await AgeWorkerEncryptor.create({ recipients: [generateIdentity().recipient] }, fd);
      const err = await (async () => {
        for (let i = 0; i < 64; i++) await enc.write([crypto.randomBytes(1 << 20)]);
        await enc.finish();
      })().then(() => null, (e: unknown) => e);
      await enc.abort();
      expect((err as NodeJS.ErrnoException | null)?.code).toBe("ENOSPC");
    } finally {
      fs.closeSync(fd);
    }
  });
});

describe("wrong keys, tampering and truncation", () => {
  let data: Buffer;
  let file: Buffer;
  beforeAll(async () => {
    data = crypto.randomBytes(5 * AGE_CHUNK + 1234);
    file = await encrypt(PASS, data);
  });

  it("a wrong passphrase says so", async () => {
    const err = await rejection(decrypt(file, { passphrases: ["not it"] }));
    expect(err.code).toBe("WRONG_PASSPHRASE");
    expect(err.message).toMatch(/wrong passphrase/);
  });

  it("no key at all says which kind of key is needed", async () => {
    expect((await rejection(decrypt(file, {}))).code).toBe("KEY_REQUIRED");
    const r = await encrypt({ recipients: [generateIdentity().recipient] }, data);
    const err = await rejection(decrypt(r, { passphrases: ["x"] }));
    expect(err.code).toBe("KEY_REQUIRED");
    expect(err.message).toMatch(/public keys/);
  });

  it("an identity that is not a recipient says so", async () => {
    const r = await encrypt({ recipients: [generateIdentity().recipient] }, data);
    expect((await rejection(decrypt(r, { identities: [generateIdentity().identity] }))).code).toBe("WRONG_IDENTITY");
  });

  it("a flipped byte in the header is refused before any payload is read", async () => {
    const headerLength = parseHeader(file).length;
    for (const at of [5, 30, headerLength - 10]) {
      const bad = Buffer.from(file);
      bad[at] ^= 0x01;
      const err = await rejection(decrypt(bad, PASS_KEYS));
      expect(["NOT_AGE", "HEADER_INVALID", "WRONG_PASSPHRASE"]).toContain(err.code);
    }
  });

  it.each([
    ["the nonce", (h: number) => h + 3],
    ["the first chunk", (h: number) => h + 16 + 100],
    ["a middle chunk", (h: number) => h + 16 + 3 * (AGE_CHUNK + 16) + 777],
    ["the last chunk", (_h: number, len: number) => len - 20],
    ["the last tag", (_h: number, len: number) => len - 1],
  ])("a flipped byte in %s is detected", async (_name, where) => {
    const bad = Buffer.from(file);
    bad[where(parseHeader(file).length, file.length)] ^= 0x80;
    expect((await rejection(decrypt(bad, PASS_KEYS))).code).toBe("PAYLOAD_DAMAGED");
  });

  it("a file cut at a chunk boundary is refused as truncated", async () => {
    const h = parseHeader(file).length;
    const cut = file.subarray(0, h + 16 + 3 * (AGE_CHUNK + 16));
    expect((await rejection(decrypt(cut, PASS_KEYS))).code).toBe("TRUNCATED");
  });

  it("a file cut inside a chunk, or in its header, is refused", async () => {
    expect((await rejection(decrypt(file.subarray(0, file.length - 100), PASS_KEYS))).code).toBe("PAYLOAD_DAMAGED");
    expect((await rejection(decrypt(file.subarray(0, parseHeader(file).length + 10), PASS_KEYS))).code).toBe("TRUNCATED");
    expect((await rejection(decrypt(file.subarray(0, 40), PASS_KEYS))).code).toBe("HEADER_INVALID");
  });

  it("bytes appended after the last chunk are refused", async () => {
    const longer = Buffer.concat([file, Buffer.from("trailing")]);
    expect((await rejection(decrypt(longer, PASS_KEYS))).code).toBe("PAYLOAD_DAMAGED");
  });

  it("an scrypt work factor above the limit is refused without running scrypt", async () => {
    const big = await encrypt({ passphrase: "x", scryptLogN: 10 }, Buffer.from("hi"));
    const text = big.toString("latin1").replace(/(-> scrypt \S+) 10\n/, "$1 21\n");
    const err = await rejection(decrypt(Buffer.from(text, "latin1"), { passphrases: ["x"] }));
    expect(err.code).toBe("HEADER_INVALID");
    expect(err.message).toMatch(/work factor/);
  });
});
