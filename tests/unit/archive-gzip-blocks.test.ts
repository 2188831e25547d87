import crypto from "node:crypto";
import zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { GzipBlockWriter, INDEXED_HEADER_BYTES, indexedMemberLength, storedGzipMember } from "@/server/backup/archive/gzip-blocks";

function noise(bytes: number, seed = 1): Buffer {
  const key = crypto.createHash("sha256").update(String(seed)).digest();
  return crypto.createCipheriv("aes-256-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(bytes));
}

describe("storedGzipMember", () => {
  it("makes a member gunzip reads back, for empty, small and multi-frame data, that states its own length", () => {
    for (const size of [0, 1, 65535, 65536, 200_001]) {
      const data = noise(size);
      const member = Buffer.concat(storedGzipMember(data));
      expect(zlib.gunzipSync(member).equals(data)).toBe(true);
      expect(member.length).toBe(size + INDEXED_HEADER_BYTES + 8 + 5 * Math.max(1, Math.ceil(size / 65535)));
      expect(indexedMemberLength(member)).toBe(member.length);
    }
  });
});

describe("GzipBlockWriter", () => {
  it("keeps the stream in order while blocks of different kinds finish out of order", async () => {
    const parts: Buffer[] = [];
    const written: Buffer[] = [];
    const w = new GzipBlockWriter({ write: async (c) => void written.push(Buffer.concat(c)), blockSize: 64 * 1024, concurrency: 3 });
    for (let i = 0; i < 40; i++) {
      // Alternate text (slow to deflate) and noise (stored, fast) so completion order differs from block order.
      const part = i % 2 ? noise(64 * 1024, i) : Buffer.from(`block ${i} `.repeat(9000)).subarray(0, 64 * 1024);
      parts.push(part);
      const p = w.push(part);
      if (p) await p;
    }
    const { sizeBytes, sha256 } = await w.finish();
    const out = Buffer.concat(written);
    expect(out.length).toBe(sizeBytes);
    expect(sha256).toBe(crypto.createHash("sha256").update(out).digest("hex"));
    expect(zlib.gunzipSync(out).equals(Buffer.concat(parts))).toBe(true);
    expect(w.stats.storedBlocks).toBeGreaterThan(0);
    expect(w.stats.storedBlocks).toBeLessThan(w.stats.blocks);
  });

  it("holds at most maxBlocks blocks when the output is slow", async () => {
    let writes = 0;
    const w = new GzipBlockWriter({
      write: () => new Promise((r) => setTimeout(() => r(void writes++), 5)),
      blockSize: 64 * 1024,
      maxBlocks: 4,
    });
    const data = noise(64 * 1024 * 40);
    for (let off = 0; off < data.length; off += 10_000) {
      const p = w.push(data.subarray(off, off + 10_000));
      if (p) await p;
      expect(w.blocksAllocated).toBeLessThanOrEqual(4);
    }
    await w.finish();
    expect(writes).toBe(40);
  });

  it("fails every later call once a write has failed", async () => {
    const w = new GzipBlockWriter({
      write: async () => {
        throw Object.assign(new Error("no space left"), { code: "ENOSPC" });
      },
      blockSize: 64 * 1024,
      maxBlocks: 2,
    });
    const push = async () => {
      for (let i = 0; i < 100; i++) {
        const p = w.push(noise(64 * 1024, i));
        if (p) await p;
      }
    };
    await expect(push()).rejects.toMatchObject({ code: "ENOSPC" });
    await expect(w.finish()).rejects.toMatchObject({ code: "ENOSPC" });
  });
});
