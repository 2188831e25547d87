import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { comparePaths, scanTree, walkTreeBatches, type SkippedEntry } from "@/server/backup/archive";

let dir: string;
let root: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "archive-scan-"));
  root = path.join(dir, "root");
  fs.mkdirSync(root);
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function write(file: string, content = "x"): void {
  fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  fs.writeFileSync(path.join(root, file), content);
}

describe("scanTree", () => {
  it("lists files, directories and symlinks depth-first in a stable order", async () => {
    write("b.txt");
    write("a b/x.txt");
    write("a/z.txt");
    write("a-c.txt");
    fs.mkdirSync(path.join(root, "a/empty"));
    fs.symlinkSync("a/z.txt", path.join(root, "link"));

    const entries = await scanTree(root);

    expect(entries.map((e) => `${e.type} ${e.path}`)).toEqual([
      "dir a",
      "dir a/empty",
      "file a/z.txt",
      "dir a b",
      "file a b/x.txt",
      "file a-c.txt",
      "file b.txt",
      "symlink link",
    ]);
  });

  it("records size, mtime, permission bits and the link target as stored", async () => {
    write("f.txt", "12345");
    fs.chmodSync(path.join(root, "f.txt"), 0o640);
    fs.utimesSync(path.join(root, "f.txt"), 1_600_000_000, 1_600_000_000);
    fs.symlinkSync("../../outside/target", path.join(root, "l"));

    const [f, l] = await scanTree(root);

    expect(f).toEqual({ path: "f.txt", type: "file", size: 5, mtimeMs: 1_600_000_000_000, mode: 0o640 });
    expect(l).toMatchObject({ path: "l", type: "symlink", linkTarget: "../../outside/target" });
  });

  it("does not follow a symlink to a directory", async () => {
    const outside = path.join(dir, "outside");
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, "secret"), "s");
    fs.symlinkSync(outside, path.join(root, "out"));

    expect((await scanTree(root)).map((e) => e.path)).toEqual(["out"]);
  });

  it("follows the root itself when it is a symlink", async () => {
    write("a.txt");
    const link = path.join(dir, "root-link");
    fs.symlinkSync(root, link);
    expect((await scanTree(link)).map((e) => e.path)).toEqual(["a.txt"]);
  });

  it("returns an empty list for a missing root", async () => {
    expect(await scanTree(path.join(dir, "missing"))).toEqual([]);
  });

  it("keeps unicode names exactly as on disk, without normalising them", async () => {
    const nfd = "cafe\u0301.txt";
    const nfc = "caf\u00e9.txt";
    write(nfd);
    write(nfc);
    write("😀 emoji/ü.txt");
    const paths = (await scanTree(root)).map((e) => e.path);
    expect(paths).toContain(nfd);
    expect(paths).toContain(nfc);
    expect(paths).toContain("😀 emoji/ü.txt");
  });

  it("leaves out FIFOs and reports them as special files", async () => {
    write("a.txt");
    execFileSync("mkfifo", [path.join(root, "fifo")]);
    const skipped: SkippedEntry[] = [];
    const entries = await scanTree(root, { onSkipped: (s) => skipped.push(s) });
    expect(entries.map((e) => e.path)).toEqual(["a.txt"]);
    expect(skipped).toEqual([{ path: "fifo", reason: "special-file" }]);
  });

  it("leaves out names that are not valid UTF-8 and reports them", async () => {
    write("ok.txt");
    fs.writeFileSync(Buffer.concat([Buffer.from(root + "/bad-"), Buffer.from([0xff, 0xfe]), Buffer.from(".txt")]), "x");
    const skipped: SkippedEntry[] = [];
    const entries = await scanTree(root, { onSkipped: (s) => skipped.push(s) });
    expect(entries.map((e) => e.path)).toEqual(["ok.txt"]);
    expect(skipped).toHaveLength(1);
    expect(skipped[0].reason).toBe("invalid-name");
  });

  it("rejects with an AbortError when aborted", async () => {
    write("a.txt");
    await expect(scanTree(root, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: "AbortError" });
  });

  it("rejects a root that is a file", async () => {
    write("a.txt");
    await expect(scanTree(path.join(root, "a.txt"))).rejects.toThrow(/not a directory/);
  });
});

describe("comparePaths", () => {
  it("puts a directory right before its contents", () => {
    const paths = ["a-b", "a b", "a/z", "a", "a/b/c", "a/b-c", "B", "b"];
    expect([...paths].sort(comparePaths)).toEqual(["B", "a", "a/b/c", "a/b-c", "a/z", "a b", "a-b", "b"]);
  });
});

describe("walkTreeBatches", () => {
  it("streams a tree of many folders in comparePaths order, in batches, reading ahead without losing the order", async () => {
    // Wide and deep at once: 40 folders of 30 subfolders, names that sort differently by
    // locale and by code unit ("a b" < "a-b" < "a/…" in neither), files at every level.
    const expected: string[] = [];
    for (let i = 0; i < 40; i++) {
      for (let j = 0; j < 30; j++) {
        const folder = `${i % 2 ? "a b" : "a-b"}${i}/${j % 3 ? "Sub" : "sub"} ${j}/deep`;
        write(`${folder}/f${j}.txt`);
        expected.push(folder, `${folder}/f${j}.txt`);
      }
      write(`${i % 2 ? "a b" : "a-b"}${i}.txt`);
    }
    const batches: string[][] = [];
    for await (const batch of walkTreeBatches(root)) batches.push(batch.map((e) => e.path));
    const walked = batches.flat();
    expect(walked).toEqual([...walked].sort(comparePaths));
    expect(walked).toEqual((await fullScanPaths()).sort(comparePaths));
    expect(walked.length).toBe(40 * 30 * 3 + 40 * 2); // per top folder: itself, its .txt, and per subfolder: it, deep/, a file
    expect(batches.length).toBeGreaterThan(1);
    expect(walked).toEqual(expect.arrayContaining(expected));
  });

  it("stops its worker when the consumer stops early, and cancels on abort", async () => {
    for (let i = 0; i < 3000; i++) write(`d${i % 30}/f${i}.txt`);
    let batches = 0;
    for await (const _ of walkTreeBatches(root)) {
      batches++;
      break;
    }
    expect(batches).toBe(1);
    const controller = new AbortController();
    const walk = (async () => {
      for await (const _ of walkTreeBatches(root, { signal: controller.signal })) controller.abort();
    })();
    await expect(walk).rejects.toMatchObject({ name: "AbortError" });
    expect((await scanTree(root)).length).toBe(3030); // and the next walk works
  });

  it("leaves out what `exclude` names, with everything inside it", async () => {
    write("keep/a.txt");
    write(".baluhost-restore/new/x.txt");
    const walked: string[] = [];
    for await (const batch of walkTreeBatches(root, { exclude: [".baluhost-restore"] })) walked.push(...batch.map((e) => e.path));
    expect(walked).toEqual(["keep", "keep/a.txt"]);
  });
});

/** Every path under root, from find(1): an independent listing to compare with. */
async function fullScanPaths(): Promise<string[]> {
  const out = execFileSync("find", [".", "-mindepth", "1"], { cwd: root, encoding: "utf8" });
  return out.trim().split("\n").map((p) => p.slice(2));
}
