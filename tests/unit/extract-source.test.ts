import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { INDEXED_HEADER_BYTES, indexedMemberLength } from "@/server/backup/archive/gzip-blocks";
import { ArchiveInvalidError, extractArchive, type ExtractLimits } from "@/server/backup/restore/extract";
import { MAX_MEMBER_BYTES, MAX_MEMBER_OUTPUT } from "@/server/backup/restore/extract-source";
import { hashTree } from "../helpers/files";
import { gz, indexedGz, ourTar, type OurItem } from "../helpers/hostile-archives";

let base: string;
let dest: { database: string; files: string; config: string };

beforeEach(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), "extract-source-"));
  dest = { database: path.join(base, "out", "database"), files: path.join(base, "out", "files"), config: path.join(base, "out", "config") };
});
afterEach(() => {
  vi.restoreAllMocks();
  fs.rmSync(base, { recursive: true, force: true });
});

function noise(bytes: number, seed: number): Buffer {
  const key = crypto.createHash("sha256").update(String(seed)).digest();
  return crypto.createCipheriv("aes-256-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(bytes));
}

/**
 * Files that cross member boundaries in every way with 64 KiB blocks: many small ones (text,
 * deflated members), large incompressible ones (stored members, streamed through the writer's
 * buffers), one larger than the writer's 1 MiB batches, and empty ones.
 */
function items(): OurItem[] {
  const out: OurItem[] = [{ path: "files/docs", type: "dir" }];
  for (let i = 0; i < 60; i++) out.push({ path: `files/docs/note-${i}.txt`, content: `note ${i}\n`.repeat(100 + i * 37) });
  out.push({ path: "files/empty.txt", content: "" });
  out.push({ path: "files/media", type: "dir" });
  for (let i = 0; i < 5; i++) out.push({ path: `files/media/photo-${i}.jpg`, content: noise(90_000 + i * 50_001, i) });
  out.push({ path: "files/media/video.mp4", content: noise(2_500_000, 99) });
  out.push({ path: "files/media/mixed.bin", content: Buffer.concat([noise(300_000, 7), Buffer.from("abc".repeat(200_000)), noise(100_000, 8)]) });
  return out;
}

/** Each member: where it starts and how long it says it is. */
function members(archive: Buffer): Array<{ at: number; length: number; stored: boolean }> {
  const out = [];
  for (let at = 0; at < archive.length; ) {
    const length = indexedMemberLength(archive, at)!;
    out.push({ at, length, stored: archive[at + INDEXED_HEADER_BYTES]! <= 1 && archive.readUInt16LE(at + INDEXED_HEADER_BYTES + 1) > 0 });
    at += length;
  }
  return out;
}

function write(data: Buffer): string {
  const file = path.join(base, "archive.tar.gz");
  fs.writeFileSync(file, data);
  return file;
}

async function refusal(archive: Buffer, limits?: Partial<ExtractLimits>): Promise<ArchiveInvalidError> {
  fs.rmSync(path.join(base, "out"), { recursive: true, force: true }); // what an earlier refusal left
  const err = await extractArchive({ archivePath: write(archive), destinations: dest, limits }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ArchiveInvalidError);
  return err as ArchiveInvalidError;
}

let valid: Buffer;
beforeEach(async () => {
  valid ??= await indexedGz(ourTar(items()));
});

describe("reading our indexed archives", () => {
  it("has stored and deflated members in the test archive (what the other tests rely on)", () => {
    const m = members(valid);
    expect(m.length).toBeGreaterThan(20);
    expect(m.some((x) => x.stored)).toBe(true);
    expect(m.some((x) => !x.stored)).toBe(true);
    expect(zlib.gunzipSync(valid).equals(ourTar(items()))).toBe(true);
  });

  it("extracts it member by member, without a gunzip stream, byte for byte", async () => {
    const streams = vi.spyOn(zlib, "createGunzip");
    const result = await extractArchive({ archivePath: write(valid), destinations: dest });
    expect(streams).not.toHaveBeenCalled();
    expect(result.manifest).not.toBeNull();
    const expected = path.join(base, "expected");
    for (const item of items()) {
      const file = path.join(expected, item.path.replace(/^files\//, ""));
      if (item.type === "dir") fs.mkdirSync(file, { recursive: true });
      else fs.writeFileSync(file, item.content ?? "");
    }
    expect(hashTree(dest.files)).toEqual(hashTree(expected));
  });

  it("gives the same tree as the same tar read as one plain gzip stream (archives from before the index)", async () => {
    const streams = vi.spyOn(zlib, "createGunzip");
    await extractArchive({ archivePath: write(gz(ourTar(items()))), destinations: dest });
    expect(streams).toHaveBeenCalledTimes(1);
    const plain = hashTree(dest.files);
    fs.rmSync(path.join(base, "out"), { recursive: true });
    await extractArchive({ archivePath: write(valid), destinations: dest });
    expect(hashTree(dest.files)).toEqual(plain);
  });

  it("copies the archive byte for byte while reading it", async () => {
    const copyTo = path.join(base, "copy.tar.gz");
    const result = await extractArchive({ archivePath: write(valid), destinations: dest, copyTo });
    expect(fs.readFileSync(copyTo).equals(valid)).toBe(true);
    expect(result.copy).toEqual({ bytes: valid.length, sha256: crypto.createHash("sha256").update(valid).digest("hex") });
  });

  it("reports progress up to the whole compressed size", async () => {
    let last = 0;
    await extractArchive({ archivePath: write(valid), destinations: dest, onProgress: (p) => (last = p.compressedBytesRead) });
    expect(last).toBe(valid.length);
  });
});

describe("refusing damaged or hostile indexed archives", () => {
  const storedMember = () => members(valid).find((m) => m.stored && m.at > 0)!;
  const deflatedMember = () => members(valid).find((m) => !m.stored && m.at > 0)!;
  const flip = (at: number) => {
    const copy = Buffer.from(valid);
    copy[at]! ^= 0x20;
    return copy;
  };
  const statedLength = (m: { at: number }, length: number) => {
    const copy = Buffer.from(valid);
    copy.writeUInt32LE(length, m.at + 16);
    return copy;
  };

  it("refuses a truncated archive", async () => {
    const err = await refusal(valid.subarray(0, Math.floor(valid.length / 2)));
    expect(err.problem).toBe("corrupt");
    expect(err.message).toMatch(/truncated/);
  });

  it("refuses a changed byte in a stored member (its CRC-32)", async () => {
    const m = storedMember();
    const err = await refusal(flip(m.at + INDEXED_HEADER_BYTES + 5 + 100));
    expect(err.message).toMatch(/compressed data is damaged \(incorrect data check\)/);
  });

  it("refuses a changed byte in a deflated member", async () => {
    const m = deflatedMember();
    const err = await refusal(flip(m.at + Math.floor(m.length / 2)));
    expect(err.problem).toBe("corrupt");
    expect(err.message).toMatch(/damaged|truncated/);
  });

  it("refuses a stored member whose trailer states another length", async () => {
    const m = storedMember();
    const copy = Buffer.from(valid);
    copy.writeUInt32LE(copy.readUInt32LE(m.at + m.length - 4) - 1, m.at + m.length - 4);
    expect((await refusal(copy)).message).toMatch(/incorrect length check/);
  });

  it("refuses a deflated member whose trailer states less data than it holds", async () => {
    const m = deflatedMember();
    const copy = Buffer.from(valid);
    copy.writeUInt32LE(copy.readUInt32LE(m.at + m.length - 4) - 1, m.at + m.length - 4);
    expect((await refusal(copy)).message).toMatch(/damaged/);
  });

  it("refuses a member that states it holds more than a block can", async () => {
    const m = storedMember();
    const copy = Buffer.from(valid);
    copy.writeUInt32LE(MAX_MEMBER_OUTPUT + 1, m.at + m.length - 4);
    expect((await refusal(copy)).message).toMatch(/more than the \d+ allowed/);
  });

  it("refuses a member that states a length longer than the file", async () => {
    const m = members(valid).at(-1)!;
    expect((await refusal(statedLength(m, m.length + 1000))).message).toMatch(/truncated/);
  });

  it("refuses a member that states a shorter length than its own", async () => {
    const m = storedMember();
    const err = await refusal(statedLength(m, m.length - 100));
    expect(err.problem).toBe("corrupt");
  });

  it("refuses a member that states an impossible length", async () => {
    for (const length of [0, 10, MAX_MEMBER_BYTES + 1]) {
      expect((await refusal(statedLength(storedMember(), length))).message).toMatch(/impossible length/);
    }
  });

  it("refuses a plain gzip member after indexed ones", async () => {
    const err = await refusal(Buffer.concat([valid, gz(Buffer.alloc(1024))]));
    expect(err.message).toMatch(/has no block index/);
  });

  it("refuses zeros after the last member", async () => {
    for (const extra of [5, 64]) {
      expect((await refusal(Buffer.concat([valid, Buffer.alloc(extra)]))).message).toMatch(/unexpected data after the end of the compressed stream/);
    }
  });

  it("refuses a decompression bomb", async () => {
    const bomb = await indexedGz(ourTar([{ path: "files/zeros.bin", content: Buffer.alloc(12 * 1024 * 1024) }]), 1024 * 1024);
    const err = await refusal(bomb, { maxCompressionRatio: 50 });
    expect(err.problem).toBe("limit");
    expect(err.message).toMatch(/decompression bomb/);
  });

  it("leaves the copy nowhere when the archive is refused", async () => {
    const copyTo = path.join(base, "copy.tar.gz");
    const archivePath = write(flip(storedMember().at + INDEXED_HEADER_BYTES + 5 + 100));
    await expect(extractArchive({ archivePath, destinations: dest, copyTo })).rejects.toBeInstanceOf(ArchiveInvalidError);
    expect(fs.existsSync(copyTo)).toBe(false);
  });
});
