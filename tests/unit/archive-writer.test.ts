import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  listArchive,
  readManifestFromArchive,
  scanTree,
  writeBackupArchive,
  type BackupManifest,
  type WriteArchiveOptions,
} from "@/server/backup/archive";
import { writeArchiveToHandle } from "@/server/backup/archive/writer";
import { INDEXED_HEADER_BYTES, indexedMemberLength } from "@/server/backup/archive/gzip-blocks";
import { archiveMeta } from "../helpers/tree";

let dir: string;
let storage: string;
let out: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "archive-writer-"));
  storage = path.join(dir, "storage");
  fs.mkdirSync(storage);
  out = path.join(dir, "out.tar.gz");
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const meta = archiveMeta;

function write(file: string, content: string | Buffer): string {
  const abs = path.join(storage, file);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, content);
  return abs;
}

function sha256(data: Buffer): string {
  return crypto.createHash("sha256").update(data).digest("hex");
}

function gnuTar(...args: string[]): string {
  return execFileSync("tar", args, { encoding: "utf8", maxBuffer: 64 << 20 });
}

function extract(archive: string): string {
  const target = fs.mkdtempSync(path.join(dir, "x-"));
  gnuTar("-xzf", archive, "-C", target);
  return target;
}

/** Writes an archive and reads its manifest back whole (the writer returns only its head). */
async function writeAndRead(opts: WriteArchiveOptions) {
  const written = await writeBackupArchive(opts);
  return { ...written, manifest: await readManifestFromArchive(opts.outputPath) };
}

async function backupStorage(extra: Partial<WriteArchiveOptions> = {}) {
  return writeAndRead({ outputPath: out, trees: [{ name: "files", root: storage }], meta: meta(), ...extra });
}

/** The tree's entries as an incremental plans them: `parentHash` for the files it names unchanged. */
async function plannedWithUnchanged(root: string, unchanged: (p: string) => string | null) {
  return (await scanTree(root)).map((e) => {
    const sha = e.type === "file" ? unchanged(e.path) : null;
    return sha ? { ...e, unchangedSha256: sha } : e;
  });
}

/** Pseudo-random bytes that do not compress, made quickly. */
function noise(bytes: number, seed = 1): Buffer {
  const key = crypto.createHash("sha256").update(String(seed)).digest();
  return crypto.createCipheriv("aes-256-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(bytes));
}

function text(bytes: number): Buffer {
  const words = ["backup", "restore", "photo", "album", "holiday", "invoice", "report", "family", "music", "notes"];
  let s = "";
  let i = 0;
  while (s.length < bytes) s += `${words[(i * 7) % words.length]} ${words[(i++ * 3) % words.length]} ${i}\n`;
  return Buffer.from(s.slice(0, bytes));
}

const LONG_DIR = Array.from({ length: 8 }, (_, i) => `level-${i}-${"d".repeat(20)}`).join("/");

function buildMixedTree(): void {
  write("docs/readme.txt", "hello\n");
  write("docs/empty.txt", "");
  fs.mkdirSync(path.join(storage, "empty-dir/nested-empty"), { recursive: true });
  write("Fotos/Urlaub 2024/Strand am Meer.txt", "sand\n");
  write("Fotos/Ürlaub/café ☕ 😀.txt", "unicode\n");
  write(`${LONG_DIR}/file-at-the-bottom.txt`, "deep\n");
  write("media/big.bin", noise(3 * 1024 * 1024));
  const exe = write("bin/tool.sh", "#!/bin/sh\necho hi\n");
  fs.chmodSync(exe, 0o750);
  fs.utimesSync(exe, new Date("2020-02-02T02:02:02Z"), new Date("2020-02-02T02:02:02Z"));
  fs.symlinkSync("../docs/readme.txt", path.join(storage, "bin/readme-link"));
}

describe("writeBackupArchive", () => {
  it("writes an archive GNU tar lists and extracts with every file byte-identical", async () => {
    buildMixedTree();
    expect(Buffer.byteLength(`backup/files/${LONG_DIR}/file-at-the-bottom.txt`)).toBeGreaterThan(200);

    await backupStorage();

    const listed = gnuTar("-tzf", out).trim().split("\n");
    expect(listed).toContain(`backup/files/${LONG_DIR}/file-at-the-bottom.txt`);
    expect(listed).toContain("backup/files/Fotos/Ürlaub/café ☕ 😀.txt");
    const x = extract(out);
    for (const e of await scanTree(storage)) {
      const src = path.join(storage, e.path);
      const dst = path.join(x, "backup/files", e.path);
      const st = fs.lstatSync(dst);
      if (e.type === "file") {
        expect(st.isFile(), e.path).toBe(true);
        expect(fs.readFileSync(dst).equals(fs.readFileSync(src)), e.path).toBe(true);
      } else if (e.type === "dir") {
        expect(st.isDirectory(), e.path).toBe(true);
      } else {
        expect(fs.readlinkSync(dst), e.path).toBe(fs.readlinkSync(src));
      }
    }
    expect(fs.readdirSync(path.join(x, "backup/files/empty-dir/nested-empty"))).toEqual([]);
  });

  it("keeps permission bits and whole-second mtimes", async () => {
    buildMixedTree();
    await backupStorage();
    const x = extract(out);
    const st = fs.statSync(path.join(x, "backup/files/bin/tool.sh"));
    expect(st.mode & 0o777).toBe(0o750);
    expect(st.mtime.toISOString()).toBe("2020-02-02T02:02:02.000Z");
  });

  it("stores symlinks inside the tree as links with their target unchanged, never following them", async () => {
    fs.mkdirSync(path.join(storage, "sub"));
    fs.symlinkSync("does/not/exist", path.join(storage, "dangling"));
    fs.symlinkSync("../dangling", path.join(storage, "sub", "up-one"));

    const { manifest, skipped } = await backupStorage();

    const entries = await listArchive(out);
    const byPath = new Map(entries.map((e) => [e.path, e]));
    expect(byPath.get("backup/files/dangling")).toMatchObject({ type: "symlink", linkTarget: "does/not/exist" });
    expect(byPath.get("backup/files/sub/up-one")).toMatchObject({ type: "symlink", linkTarget: "../dangling" });
    expect(manifest.entries.find((e) => e.path === "files/sub/up-one")).toMatchObject({ type: "symlink", link_target: "../dangling" });
    expect(skipped).toEqual([]);
    const x = extract(out);
    expect(fs.readlinkSync(path.join(x, "backup/files/sub/up-one"))).toBe("../dangling");
  });

  it("leaves out links that point outside the tree, which a restore would refuse, and reports them", async () => {
    const outside = path.join(dir, "outside");
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, "secret.txt"), "not part of the backup");
    fs.symlinkSync(outside, path.join(storage, "escape"));
    fs.symlinkSync("../../../../etc/passwd", path.join(storage, "relative-escape"));
    fs.symlinkSync("a/../../b", path.join(storage, "dotdot-after-name"));

    const { manifest, skipped } = await backupStorage();

    const entries = await listArchive(out);
    expect(entries.some((e) => /escape|dotdot|secret\.txt/.test(e.path))).toBe(false);
    expect(manifest.entries.some((e) => e.type === "symlink")).toBe(false);
    expect(skipped.map((s) => [s.path, s.reason]).sort()).toEqual([
      ["files/dotdot-after-name", "unsafe-link"],
      ["files/escape", "unsafe-link"],
      ["files/relative-escape", "unsafe-link"],
    ]);
  });

  it("writes the manifest as the last entry, with a hash that matches every file", async () => {
    buildMixedTree();
    const written = await backupStorage();

    const listed = gnuTar("-tzf", out).trim().split("\n");
    expect(listed.at(-1)).toBe("backup/manifest.json");
    const manifest = await readManifestFromArchive(out);
    expect(manifest).toEqual(written.manifest);
    const files = manifest.entries.filter((e) => e.type === "file");
    expect(files.length).toBe(7);
    for (const f of files) {
      const content = fs.readFileSync(path.join(storage, f.path.replace(/^files\//, "")));
      expect(f.sha256, f.path).toBe(sha256(content));
      expect(f.size).toBe(content.length);
      expect(f.in_archive).toBe(true);
    }
    expect(manifest.totals).toMatchObject({ files: 7, symlinks: 1, archived_files: 7 });
    expect(manifest.totals.bytes).toBe(files.reduce((n, f) => n + f.size, 0));
    expect(manifest.entries.map((e) => e.path)).toContain("files/empty-dir/nested-empty");
  });

  it("reports the size and SHA-256 of the whole file it wrote", async () => {
    buildMixedTree();
    const written = await backupStorage();
    const bytes = fs.readFileSync(out);
    expect(written.sizeBytes).toBe(bytes.length);
    expect(written.sha256).toBe(sha256(bytes));
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
  });

  it("stores a database snapshot at backup/database/baluhost.db", async () => {
    const snapshot = path.join(dir, "snapshot.sqlite");
    const content = Buffer.concat([Buffer.from("SQLite format 3\0"), noise(100_000)]);
    fs.writeFileSync(snapshot, content);
    write("a.txt", "a");

    const { manifest } = await writeAndRead({
      outputPath: out,
      database: { snapshotPath: snapshot },
      trees: [{ name: "files", root: storage }],
      meta: meta({ backup_type: "full", includes: { database: true, files: true, config: false } }),
    });

    const x = extract(out);
    expect(fs.readFileSync(path.join(x, "backup/database/baluhost.db")).equals(content)).toBe(true);
    expect(manifest.entries[0]).toMatchObject({ path: "database/baluhost.db", type: "file", sha256: sha256(content), in_archive: true });
  });

  it("stores the config tree under backup/config", async () => {
    const config = path.join(dir, "config");
    fs.mkdirSync(config);
    fs.writeFileSync(path.join(config, "app.json"), '{"a":1}');
    await writeBackupArchive({
      outputPath: out,
      trees: [{ name: "config", root: config }],
      meta: meta({ includes: { database: false, files: false, config: true } }),
    });
    expect(gnuTar("-tzf", out).split("\n")).toContain("backup/config/app.json");
  });

  it("lists an incremental's unchanged files with in_archive false and leaves them out of the tar", async () => {
    write("old/unchanged.jpg", noise(200_000, 7));
    write("new/changed.txt", "fresh content");
    const parentHash = "ab".repeat(32);

    const entries = await plannedWithUnchanged(storage, (p) => (p === "old/unchanged.jpg" ? parentHash : null));
    const { manifest } = await writeAndRead({
      outputPath: out,
      trees: [{ name: "files", root: storage, entries }],
      meta: meta({ backup_type: "incremental", parent: { id: 4, filename: "backup_20250101_000000.tar.gz" } }),
    });

    const listed = gnuTar("-tzf", out);
    expect(listed).not.toContain("unchanged.jpg");
    expect(listed).toContain("backup/files/new/changed.txt");
    expect(listed).toContain("backup/files/old/");
    expect(manifest.entries.find((e) => e.path === "files/old/unchanged.jpg")).toEqual({
      path: "files/old/unchanged.jpg",
      type: "file",
      size: 200_000,
      mtime: expect.any(Number),
      mode: expect.any(Number),
      sha256: parentHash,
      in_archive: false,
    });
    expect(manifest.totals).toMatchObject({ files: 2, archived_files: 1, bytes: 200_000 + 13, archived_bytes: 13 });
  });

  it("writes several gzip members that gzip -t, GNU tar and Node's gunzip all read", async () => {
    write("a/noise.bin", noise(3 * 1024 * 1024));
    write("b/text.txt", text(2 * 1024 * 1024));
    await backupStorage();

    const bytes = fs.readFileSync(out);
    expect(countGzipMembers(bytes)).toBeGreaterThanOrEqual(5);
    execFileSync("gzip", ["-t", out]);
    expect(gnuTar("-tzf", out)).toContain("backup/files/b/text.txt");
    let tarBytes = 0;
    await pipeline(fs.createReadStream(out), zlib.createGunzip(), async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) tarBytes += chunk.length;
    });
    expect(tarBytes).toBe(zlib.gunzipSync(bytes).length);
    expect(tarBytes).toBeGreaterThan(5 * 1024 * 1024);
    expect(tarBytes % 512).toBe(0);
  });

  it("keeps incompressible data within 2 % of its size", async () => {
    write("video.mp4", noise(20 * 1024 * 1024));
    const { sizeBytes } = await backupStorage();
    expect(sizeBytes).toBeLessThanOrEqual(1.02 * 20 * 1024 * 1024);
  });

  it("compresses compressible text", async () => {
    write("log.txt", text(8 * 1024 * 1024));
    const { sizeBytes } = await backupStorage();
    expect(sizeBytes).toBeLessThan(0.3 * 8 * 1024 * 1024);
  });

  it("stops the tree walk's worker and removes its manifest spool when it fails part-way", async () => {
    // Enough files for several walk batches, so the failure comes while the walk is paused.
    for (let i = 0; i < 5000; i++) write(`d${i % 50}/f${i}.txt`, "x");
    const workers = () => process.getActiveResourcesInfo().filter((r) => r === "MessagePort" || r === "Worker").length;
    const before = workers();
    const controller = new AbortController();
    const promise = backupStorage({
      signal: controller.signal,
      onProgress: (p) => {
        if (p.filesDone > 100) controller.abort();
      },
    });
    await expect(promise).rejects.toMatchObject({ name: "AbortError" });
    expect(workers()).toBe(before);
    expect(fs.readdirSync(path.dirname(out)).filter((n) => n.includes("manifest"))).toEqual([]);
  });

  it("rejects with an AbortError soon after the signal aborts", async () => {
    for (let i = 0; i < 4; i++) write(`v/${i}.bin`, noise(32 * 1024 * 1024, i));
    const controller = new AbortController();
    let abortedAt = 0;
    const promise = backupStorage({
      signal: controller.signal,
      onProgress: (p) => {
        if (p.bytesDone > 0 && !abortedAt) {
          abortedAt = performance.now();
          controller.abort();
        }
      },
    });
    await expect(promise).rejects.toMatchObject({ name: "AbortError" });
    expect(performance.now() - abortedAt).toBeLessThan(1000);
    // Nothing is written after the promise settled.
    const size = fs.statSync(out).size;
    await new Promise((r) => setTimeout(r, 200));
    expect(fs.statSync(out).size).toBe(size);
  });

  it("rejects at once when the signal is already aborted, creating no file", async () => {
    write("a.txt", "a");
    await expect(backupStorage({ signal: AbortSignal.abort() })).rejects.toMatchObject({ name: "AbortError" });
    expect(fs.existsSync(out)).toBe(false);
  });

  it.each([
    ["shrinks", (file: string) => fs.truncateSync(file, 1024 * 1024)],
    ["grows", (file: string) => fs.appendFileSync(file, "more")],
  ])("fails naming the file when a big file %s while it is read", async (_what, change) => {
    const big = write("video.mp4", noise(24 * 1024 * 1024));
    let changed = false;
    const promise = writeBackupArchive(
      {
        outputPath: out,
        trees: [{ name: "files", root: storage }],
        meta: meta(),
        onProgress: (p) => {
          if (p.bytesDone > 0 && !changed) {
            changed = true;
            change(big);
          }
        },
      },
      { progressIntervalMs: 0 },
    );
    await expect(promise).rejects.toMatchObject({ code: "SOURCE_CHANGED", path: big });
    await expect(promise).rejects.toThrow(`${big} changed while it was being backed up; try again when nothing is writing to it`);
  });

  it.each([
    ["a big file keeps", 1, 40 * 1024 * 1024, Infinity],
    ["small files keep", 20, 200_000, Infinity],
    ["small files briefly", 20, 200_000, 3],
  ])("never writes an entry whose header and body disagree while %s changing", async (_what, count, size, ticks) => {
    const files = Array.from({ length: count }, (_, i) => write(`churn/${i}.bin`, noise(size, i)));
    for (let i = 0; i < 200; i++) write(`calm/${i}.txt`, text(5000));
    let running = true;
    let tick = 0;
    const churn = () => {
      if (!running || tick >= ticks) return;
      tick++;
      for (const f of files) {
        if (tick % 2) fs.appendFileSync(f, noise(64 * 1024, tick));
        else fs.truncateSync(f, size / 2 + (tick % 7) * 4096);
      }
      setImmediate(churn);
    };
    setImmediate(churn);
    const result = await backupStorage().then(
      (r) => r,
      (err: unknown) => err,
    );
    running = false;
    expect(tick).toBeGreaterThanOrEqual(Math.min(ticks, 3));
    if (result instanceof Error) {
      expect(result).toMatchObject({ code: "SOURCE_CHANGED" });
      expect(files).toContain((result as { path?: string }).path);
      expect(result.message).toContain("changed while it was being backed up");
    } else {
      // The archive is consistent: every stored body has the size and hash the manifest lists.
      execFileSync("gzip", ["-t", out]);
      const x = extract(out);
      for (const e of (result as { manifest: BackupManifest }).manifest.entries.filter((f) => f.type === "file")) {
        const content = fs.readFileSync(path.join(x, "backup", e.path));
        expect(content.length).toBe(e.size);
        expect(sha256(content)).toBe(e.sha256);
      }
    }
  });

  it("re-reads a small file that changed since it was scanned and lists what it stored", async () => {
    const file = write("notes.txt", "first version");
    const entries = await scanTree(storage);
    fs.writeFileSync(file, "second, longer version");
    fs.utimesSync(file, new Date("2021-01-01T00:00:00Z"), new Date("2021-01-01T00:00:00Z"));

    const { manifest } = await backupStorage({ trees: [{ name: "files", root: storage, entries }] });

    const x = extract(out);
    expect(fs.readFileSync(path.join(x, "backup/files/notes.txt"), "utf8")).toBe("second, longer version");
    expect(manifest.entries[0]).toMatchObject({ size: 22, sha256: sha256(Buffer.from("second, longer version")) });
  });

  it("skips a file deleted between the scan and the write", async () => {
    write("keep.txt", "keep");
    const gone = write("gone.txt", "gone");
    const goneBig = write("gone-big.bin", noise(9 * 1024 * 1024));
    const entries = await scanTree(storage);
    fs.rmSync(gone);
    fs.rmSync(goneBig);

    const { manifest, skipped } = await backupStorage({ trees: [{ name: "files", root: storage, entries }] });

    expect(manifest.entries.map((e) => e.path)).toEqual(["files/keep.txt"]);
    expect(skipped).toEqual([
      { path: "files/gone-big.bin", reason: "vanished" },
      { path: "files/gone.txt", reason: "vanished" },
    ]);
    expect(gnuTar("-tzf", out)).not.toContain("gone");
  });

  it("leaves out a FIFO and reports it as skipped", async () => {
    write("a.txt", "a");
    execFileSync("mkfifo", [path.join(storage, "pipe")]);
    const { manifest, skipped } = await backupStorage();
    expect(skipped).toEqual([{ path: "files/pipe", reason: "special-file" }]);
    expect(manifest.entries.map((e) => e.path)).toEqual(["files/a.txt"]);
  });

  it("backs up a missing tree root as an empty tree", async () => {
    const { manifest } = await writeAndRead({
      outputPath: out,
      trees: [{ name: "files", root: path.join(dir, "nope") }],
      meta: meta(),
    });
    expect(manifest.entries).toEqual([]);
    expect(gnuTar("-tzf", out).trim().split("\n")).toEqual(["backup/", "backup/files/", "backup/manifest.json"]);
  });

  it("rejects when the output folder does not exist", async () => {
    write("a.txt", "a");
    await expect(backupStorage({ outputPath: path.join(dir, "missing", "out.tar.gz") })).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("refuses to overwrite an existing output file", async () => {
    fs.writeFileSync(out, "precious");
    await expect(backupStorage()).rejects.toMatchObject({ code: "EEXIST" });
    expect(fs.readFileSync(out, "utf8")).toBe("precious");
  });

  it.each([
    ["small files", 2 * 1024 * 1024],
    ["a streamed file", 40 * 1024 * 1024],
  ])("surfaces a full disk as an error with code ENOSPC while writing %s", async (_what, size) => {
    write("a.bin", noise(size));
    const fh = await fs.promises.open("/dev/full", "w");
    try {
      await expect(
        writeArchiveToHandle(fh, { outputPath: "/dev/full", trees: [{ name: "files", root: storage }], meta: meta() }),
      ).rejects.toMatchObject({ code: "ENOSPC" });
    } finally {
      await fh.close();
    }
  });

  it("rejects meta.includes that disagree with what is being archived", async () => {
    await expect(
      writeBackupArchive({ outputPath: out, trees: [{ name: "files", root: storage }], meta: meta({ includes: { database: true, files: true, config: false } }) }),
    ).rejects.toThrow(/includes disagrees.*database/);
  });

  it.each(["../escape.txt", "/etc/passwd", "a/./b", "a//b", ""])("refuses a pre-scanned entry with the path %j", async (bad) => {
    await expect(
      backupStorage({ trees: [{ name: "files", root: storage, entries: [{ path: bad, type: "file", size: 1, mtimeMs: 0, mode: 0o644 }] }] }),
    ).rejects.toThrow(/not a plain relative path/);
  });

  it("refuses a parent hash that is not a SHA-256", async () => {
    write("a.txt", "a");
    const entries = await plannedWithUnchanged(storage, () => "nope");
    await expect(backupStorage({ trees: [{ name: "files", root: storage, entries }] })).rejects.toThrow(/invalid sha256/);
  });

  it("leaves its own output out when it is written inside the tree", async () => {
    write("a.txt", "a");
    const inside = path.join(storage, "backup.tar.gz.tmp");
    const { manifest } = await backupStorage({ outputPath: inside });
    expect(manifest.entries.map((e) => e.path)).toEqual(["files/a.txt"]);
  });

  it("reports progress a few times a second at most, ending at the totals", async () => {
    for (let i = 0; i < 50; i++) write(`t/${i}.txt`, text(10_000 + i));
    const calls: Array<{ filesDone: number; filesTotal: number; bytesDone: number; bytesTotal: number }> = [];
    await backupStorage({ onProgress: (p) => calls.push(p) });
    expect(calls.length).toBeLessThan(10);
    const total = 50 * 10_000 + (49 * 50) / 2;
    expect(calls.at(-1)).toEqual({ filesDone: 50, filesTotal: 50, bytesDone: total, bytesTotal: total });
  });
});

/**
 * Walks a gzip file member by member: each must carry the block index (FEXTRA, nothing else),
 * and the length it states must be where inflating its data says the member ends.
 */
function countGzipMembers(buf: Buffer): number {
  let off = 0;
  let members = 0;
  while (off < buf.length) {
    expect(buf[off]).toBe(0x1f);
    expect(buf[off + 1]).toBe(0x8b);
    expect(buf[off + 3]).toBe(0x04); // FEXTRA only
    const stated = indexedMemberLength(buf, off);
    const { engine } = zlib.inflateRawSync(buf.subarray(off + INDEXED_HEADER_BYTES), { info: true }) as unknown as {
      engine: { bytesWritten: number };
    };
    expect(stated).toBe(INDEXED_HEADER_BYTES + engine.bytesWritten + 8);
    off += stated!;
    members++;
  }
  return members;
}
