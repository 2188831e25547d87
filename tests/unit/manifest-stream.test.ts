import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BackupManifest, ManifestFileEntry } from "@/server/backup/archive";
import { LineSpool, splitLines } from "@/server/backup/archive/line-spool";
import { readManifestStream, serializeManifest } from "@/server/backup/archive/manifest";
import { archiveMeta } from "../helpers/tree";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "manifest-stream-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function entry(i: number): ManifestFileEntry {
  return { path: `files/d${i % 7}/f${i}.txt`, type: "file", size: i, mtime: 1_700_000_000_123 + i, mode: 0o644, sha256: "a".repeat(64), in_archive: i % 3 !== 0 };
}

function manifestOf(entries: ManifestFileEntry[]): BackupManifest {
  return {
    ...archiveMeta(),
    entries,
    totals: { files: entries.length, dirs: 0, symlinks: 0, bytes: 0, archived_files: 0, archived_bytes: 0 },
  } as BackupManifest;
}

/** The text, cut into chunks of `size` bytes (so lines and UTF-8 characters are split across chunks). */
async function* chunksOf(text: string | Buffer, size: number): AsyncGenerator<Buffer> {
  const buf = Buffer.isBuffer(text) ? text : Buffer.from(text, "utf8");
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function readAll(text: string | Buffer, chunk = 7) {
  const stream = await readManifestStream(splitLines(chunksOf(text, chunk)), "test");
  const entries: ManifestFileEntry[] = [];
  for await (const batch of stream.entries) entries.push(...batch);
  return { head: stream.head, entries };
}

describe("manifest text, streamed", () => {
  it("reads back what serializeManifest writes, entry by entry, whatever the chunking", async () => {
    const entries = Array.from({ length: 2500 }, (_, i) => entry(i));
    entries[5] = { ...entries[5], path: "files/Ünïcødé – 名前 😀.txt" };
    const m = manifestOf(entries);
    const text = serializeManifest(m);
    expect(JSON.parse(text.toString("utf8"))).toEqual(m); // still plain JSON
    for (const chunk of [1, 13, 1 << 20]) {
      const back = await readAll(text, chunk);
      expect(back.entries).toEqual(entries);
      const { entries: _e, ...head } = m;
      expect(back.head).toEqual(head);
    }
  });

  it("reads an empty entry list", async () => {
    const back = await readAll(serializeManifest(manifestOf([])));
    expect(back.entries).toEqual([]);
  });

  it("reads a manifest in another JSON layout (compact, or commas behind) whole", async () => {
    const m = manifestOf([entry(1), entry(2)]);
    expect((await readAll(JSON.stringify(m))).entries).toEqual(m.entries);
    expect((await readAll(JSON.stringify(m, null, 2))).entries).toEqual(m.entries);
  });

  it("refuses entries not separated by exactly one comma, a cut-off list and text after the end", async () => {
    const text = serializeManifest(manifestOf([entry(1), entry(2), entry(3)])).toString("utf8");
    const lines = text.split("\n");
    const noComma = [...lines.slice(0, 3), lines[3].slice(1), ...lines.slice(4)].join("\n");
    await expect(readAll(noComma)).rejects.toThrow(/not separated from the one before by one comma/);
    const twoCommas = [...lines.slice(0, 3), `${lines[3]},`, ...lines.slice(4)].join("\n");
    await expect(readAll(twoCommas)).rejects.toThrow(/comma/);
    await expect(readAll(lines.slice(0, 4).join("\n"))).rejects.toThrow(/cut short/);
    await expect(readAll(`${text}{"more":1}\n`)).rejects.toThrow(/text after its end/);
  });

  it("refuses an invalid entry and names its number", async () => {
    const text = serializeManifest(manifestOf([entry(1), entry(2)])).toString("utf8").replace('"size":2', '"size":-2');
    await expect(readAll(text)).rejects.toThrow(/invalid entry #2/);
  });
});

describe("splitLines", () => {
  it("reassembles a line that spans many chunks (a manifest written on one line)", async () => {
    const long = "é".repeat(300_000); // 600 KB of two-byte characters
    const lines: string[] = [];
    for await (const batch of splitLines(chunksOf(`a\n${long}\nb`, 1000))) lines.push(...batch);
    expect(lines).toEqual(["a", long, "b"]);
  });
});

describe("LineSpool", () => {
  it("gives back every line in order, across its 1 MiB buffers", async () => {
    const spool = await LineSpool.create(path.join(dir, "s.jsonl"));
    const expected: string[] = [];
    for (let i = 0; i < 60_000; i++) {
      const line = `${i}:${"é".repeat(i % 40)}`;
      expected.push(line);
      await spool.append(line);
    }
    const back: string[] = [];
    for await (const batch of spool.lines()) back.push(...batch);
    expect(back).toEqual(expected);
    // Backwards too, with lines and UTF-8 characters cut by the 64 KiB pieces.
    const reversed: string[] = [];
    for await (const batch of spool.linesReversed()) reversed.push(...batch);
    expect(reversed).toEqual([...expected].reverse());
    expect(spool.count).toBe(60_000);
    expect(spool.size).toBe(fs.statSync(spool.path).size);
    await spool.remove();
    expect(fs.existsSync(spool.path)).toBe(false);
  });
});
