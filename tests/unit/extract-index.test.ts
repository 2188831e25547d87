import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EntryIndex, StoredLog } from "@/server/backup/restore/extract-manifest";

let dir: string;
let log: StoredLog;
beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "extract-index-"));
  log = await StoredLog.create(path.join(dir, "stored.jsonl"));
});
afterEach(async () => {
  await log.remove();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function addFile(index: EntryIndex, rel: string): Promise<void> {
  await index.add(rel, "file", `backup/${rel}`);
  await log.append({ rel, kind: "file", size: 1, sha256: "0".repeat(64), linkTarget: null, written: true, mtimeMs: 0 });
}

describe("EntryIndex", () => {
  it("keeps refusing duplicates and collisions after growing to tens of thousands of names, naming both entries", async () => {
    const index = new EntryIndex(log);
    for (let i = 0; i < 30_000; i++) await addFile(index, `files/d${i % 500}/Photo ${i}.JPG`);
    expect(index.has("files/d7/Photo 7.JPG")).toBe(true);
    expect(index.has("files/d7/photo 7.jpg")).toBe(false);
    expect(index.has("files/d7")).toBe(false); // only implied by the files inside it

    await expect(addFile(index, "files/d7/Photo 7.JPG")).rejects.toThrow(/contains "backup\/files\/d7\/Photo 7\.JPG" twice/);
    // The other name is looked up again in the log of stored entries.
    await expect(addFile(index, "files/d7/photo 7.jpg")).rejects.toThrow(
      /"backup\/files\/d7\/Photo 7\.JPG" and "backup\/files\/d7\/photo 7\.jpg" have names that differ only in upper\/lower case/,
    );
    // ...and in the names of folders known only from the paths inside them.
    await expect(addFile(index, "files/D7/x.txt")).rejects.toThrow(/inside "backup\/files\/D7", a folder whose name and that of "backup\/files\/d7" differ only in upper\/lower case/);
    await expect(addFile(index, "files/d7/Photo 7.JPG/inside")).rejects.toThrow(/inside "backup\/files\/d7\/Photo 7\.JPG", which is a file/);
  });

  it("refuses an unchanged file listed twice, or listed as unchanged while stored", async () => {
    const index = new EntryIndex(log);
    await addFile(index, "files/a.txt");
    index.addListed("files/b.txt", "backup/files/b.txt");
    expect(() => index.addListed("files/b.txt", "backup/files/b.txt")).toThrow(/lists "backup\/files\/b\.txt" twice/);
    expect(() => index.addListed("files/a.txt", "backup/files/a.txt")).toThrow(/not stored in this archive, but it is/);
    // Names that differ only in case are different files here (an older archive, read with
    // its own collision check, holds them): listed once each, they are accepted.
    index.addListed("files/A.txt", "backup/files/A.txt");
    index.addListed("files/B.txt", "backup/files/B.txt");
    expect(() => index.addListed("files/B.txt", "backup/files/B.txt")).toThrow(/lists "backup\/files\/B\.txt" twice/);
    expect(index.has("files/a.txt")).toBe(true);
    expect(index.has("files/A.txt")).toBe(false);
  });
});
