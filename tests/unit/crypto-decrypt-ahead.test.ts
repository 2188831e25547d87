/**
 * Opening an age payload ahead on a thread of its own (decrypt-ahead.ts): the same bytes as
 * the in-place reader, the same refusals at the same place (nothing after a damaged chunk is
 * handed out), and a clean stop.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGE_CHUNK, AgeError, AgePayloadReader, AgeStreamEncryptor, fdRead, parseHeader, plaintextPieces, type AgeKeys, type AgeTarget } from "@/server/backup/crypto";

const PASS: AgeTarget = { passphrase: "ahead", scryptLogN: 10 };
const KEYS: AgeKeys = { passphrases: ["ahead"] };
const BLOCK = 16 * AGE_CHUNK;

let dir: string;
let data: Buffer;
let file: Buffer;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bh-ahead-"));
  data = crypto.randomBytes(7 * BLOCK + 3 * AGE_CHUNK + 999); // 8 blocks, the last one partial
  file = await encrypt(data);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function encrypt(plain: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  const enc = await AgeStreamEncryptor.create(PASS, async (chunks) => {
    for (const c of chunks) out.push(Buffer.from(c));
  });
  if (plain.length > 0) await enc.write([plain]);
  await enc.finish();
  return Buffer.concat(out);
}

/** Opens `bytes` (written to a file) and hands its reader-ahead to `use`; closes both after. */
async function withAhead<T>(bytes: Buffer, use: (ahead: ReturnType<AgePayloadReader["readAhead"]>, p: string) => Promise<T>): Promise<T> {
  const p = path.join(dir, `${crypto.randomUUID()}.age`);
  fs.writeFileSync(p, bytes);
  const fd = fs.openSync(p, "r");
  const reader = await AgePayloadReader.open(fdRead(fd), bytes.length, KEYS);
  const ahead = reader.readAhead(fd);
  try {
    return await use(ahead, p);
  } finally {
    await ahead.close();
    fs.closeSync(fd);
  }
}

async function readAll(ahead: ReturnType<AgePayloadReader["readAhead"]>, piece: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of plaintextPieces(ahead, piece)) parts.push(p);
  return Buffer.concat(parts);
}

async function failure(p: Promise<unknown>): Promise<AgeError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(AgeError);
  return err as AgeError;
}

describe("decrypt ahead", () => {
  it.each([100_000, BLOCK, 3 * BLOCK + 17, 4096])("reads the whole plaintext byte for byte in pieces of %i", async (piece) => {
    const got = await withAhead(file, (ahead) => readAll(ahead, piece));
    expect(got.length).toBe(data.length);
    expect(got.equals(data)).toBe(true);
  });

  it("reads an empty plaintext (its one chunk still authenticated)", async () => {
    const empty = await encrypt(Buffer.alloc(0));
    expect((await withAhead(empty, (ahead) => readAll(ahead, 1000))).length).toBe(0);
    const bad = Buffer.from(empty);
    bad[bad.length - 1] ^= 1;
    expect((await failure(withAhead(bad, (ahead) => ahead.checkEmpty()))).code).toBe("PAYLOAD_DAMAGED");
  });

  it("hands out everything before a damaged chunk, and refuses from its block on", async () => {
    const h = parseHeader(file).length + 16;
    const bad = Buffer.from(file);
    bad[h + 40 * (AGE_CHUNK + 16) + 5] ^= 0x40; // chunk 41, in block 3 (counted from 1)
    await withAhead(bad, async (ahead) => {
      const first = Buffer.alloc(2 * BLOCK);
      await ahead.readPlaintext(first, 0);
      expect(first.equals(data.subarray(0, 2 * BLOCK))).toBe(true);
      const err = await failure(ahead.readPlaintext(Buffer.alloc(100), 2 * BLOCK + 10));
      expect(err.code).toBe("PAYLOAD_DAMAGED");
      expect(err.message).toMatch(/chunk 41 of 116/);
      expect((await failure(ahead.readPlaintext(Buffer.alloc(10), 5 * BLOCK))).code).toBe("PAYLOAD_DAMAGED");
    });
  });

  it("refuses a file cut at a chunk boundary, or inside a chunk", async () => {
    const h = parseHeader(file).length + 16;
    const atBoundary = file.subarray(0, h + 20 * (AGE_CHUNK + 16));
    const err = await failure(withAhead(atBoundary, (ahead) => readAll(ahead, BLOCK)));
    expect(err.code).toBe("TRUNCATED");
    expect(err.message).toMatch(/not marked as the last/);
    expect((await failure(withAhead(file.subarray(0, file.length - 100), (ahead) => readAll(ahead, BLOCK)))).code).toBe("PAYLOAD_DAMAGED");
  });

  it("refuses a file that gets shorter while it is read", async () => {
    const err = await failure(
      withAhead(file, async (ahead, p) => {
        fs.truncateSync(p, 2 * BLOCK);
        return readAll(ahead, BLOCK);
      }),
    );
    expect(["TRUNCATED", "PAYLOAD_DAMAGED"]).toContain(err.code);
  });

  it("refuses to read backwards past a block it has given back", async () => {
    await withAhead(file, async (ahead) => {
      await ahead.readPlaintext(Buffer.alloc(10), 3 * BLOCK);
      await ahead.readPlaintext(Buffer.alloc(10), 3 * BLOCK + 5); // same block: fine
      await expect(ahead.readPlaintext(Buffer.alloc(10), 0)).rejects.toThrow(/read backwards/);
    });
  });

  it("close() wakes a waiting read and settles once the thread has stopped", async () => {
    await withAhead(file, async (ahead) => {
      const pending = ahead.readPlaintext(Buffer.alloc(data.length), 0).then(
        () => "read",
        (e: Error) => e.message,
      );
      await ahead.close();
      expect(await pending).toMatch(/closed|read/);
      await expect(ahead.readPlaintext(Buffer.alloc(10), 7 * BLOCK)).rejects.toThrow();
    });
  });
});
