import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { listArchive, parseManifest, readManifestFromArchive, writeBackupArchive } from "@/server/backup/archive";
import { serializeManifest } from "@/server/backup/archive/manifest";
import type { BackupManifest } from "@/server/backup/archive";

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "archive-reader-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const manifest: BackupManifest = {
  format: "baluhost-backup",
  format_version: 1,
  app_version: "0.1.0",
  migration_level: 2,
  backup_type: "files_only",
  parent: null,
  created_at: "2025-01-01T12:00:00.000Z",
  includes: { database: false, files: true, config: false },
  entries: [
    { path: "files/a", type: "dir", size: 0, mtime: 1, mode: 0o755, in_archive: true },
    { path: "files/a/b.txt", type: "file", size: 3, mtime: 2, mode: 0o644, sha256: "0".repeat(64), in_archive: true },
    { path: "files/l", type: "symlink", size: 1, mtime: 3, mode: 0o777, link_target: "a", in_archive: true },
  ],
  totals: { files: 1, dirs: 1, symlinks: 1, bytes: 3, archived_files: 1, archived_bytes: 3 },
};

/** A .tar.gz made by GNU tar from the given files (relative path → content). */
function gnuArchive(files: Record<string, string>): string {
  const src = path.join(dir, "src");
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(src, rel)), { recursive: true });
    fs.writeFileSync(path.join(src, rel), content);
  }
  const file = path.join(dir, "gnu.tar.gz");
  execFileSync("tar", ["-czf", file, "-C", src, ...Object.keys(files)]);
  return file;
}

describe("readManifestFromArchive", () => {
  it("reads back the manifest the writer stored", async () => {
    const root = path.join(dir, "root");
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, "x.txt"), "x");
    const out = path.join(dir, "b.tar.gz");
    const copy = path.join(dir, "copy.json");
    const written = await writeBackupArchive({
      outputPath: out,
      trees: [{ name: "files", root }],
      meta: { ...manifest, entries: undefined, totals: undefined } as never,
      manifestCopyPath: copy,
    });
    const { entries, ...head } = await readManifestFromArchive(out);
    expect(head).toEqual(written.manifest);
    expect(entries).toEqual([expect.objectContaining({ path: "files/x.txt", size: 1, in_archive: true })]);
    // The copy holds the same bytes as backup/manifest.json.
    const x = fs.mkdtempSync(path.join(dir, "x-"));
    execFileSync("tar", ["-xzf", out, "-C", x, "backup/manifest.json"]);
    expect(fs.readFileSync(copy).equals(fs.readFileSync(path.join(x, "backup/manifest.json")))).toBe(true);
  });

  it("rejects an archive without a manifest as ARCHIVE_INVALID", async () => {
    const file = gnuArchive({ "backup/files/a.txt": "a" });
    await expect(readManifestFromArchive(file)).rejects.toMatchObject({ code: "ARCHIVE_INVALID", message: expect.stringContaining("no backup/manifest.json") });
  });

  it("rejects a manifest of another format as ARCHIVE_INVALID", async () => {
    const file = gnuArchive({ "backup/manifest.json": JSON.stringify({ ...manifest, format: "other" }) });
    await expect(readManifestFromArchive(file)).rejects.toMatchObject({ code: "ARCHIVE_INVALID", message: expect.stringContaining("not a BaluHost backup") });
  });

  it("rejects a file that is not a .tar.gz as ARCHIVE_INVALID", async () => {
    const file = path.join(dir, "junk.tar.gz");
    fs.writeFileSync(file, zlib.gzipSync(Buffer.from("this is not a tar archive".repeat(100))));
    await expect(readManifestFromArchive(file)).rejects.toMatchObject({ code: "ARCHIVE_INVALID" });
  });

  it("rejects a truncated archive as ARCHIVE_INVALID", async () => {
    const file = gnuArchive({ "backup/files/a.txt": "a".repeat(100_000), "backup/manifest.json": serializeManifest(manifest).toString() });
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length >> 1));
    await expect(readManifestFromArchive(file)).rejects.toMatchObject({ code: "ARCHIVE_INVALID" });
  });

  it("passes a missing file's ENOENT through", async () => {
    await expect(readManifestFromArchive(path.join(dir, "nope.tar.gz"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});

describe("parseManifest", () => {
  it("accepts what serializeManifest writes", () => {
    expect(parseManifest(serializeManifest(manifest).toString("utf8"))).toEqual(manifest);
  });

  it("tells the admin to update when the format version is newer", () => {
    expect(() => parseManifest(JSON.stringify({ ...manifest, format_version: 2 }))).toThrow(/newer BaluHost.*update BaluHost/);
  });

  it("rejects a file entry without a hash", () => {
    const bad = { ...manifest, entries: [{ ...manifest.entries[1], sha256: undefined }] };
    expect(() => parseManifest(JSON.stringify(bad))).toThrow(/invalid entry #1/);
  });

  it("rejects text that is not JSON", () => {
    expect(() => parseManifest("{nope")).toThrow(/not valid JSON/);
  });
});

describe("listArchive", () => {
  it("lists every entry with its type, size and link target", async () => {
    const src = path.join(dir, "s");
    fs.mkdirSync(path.join(src, "d"), { recursive: true });
    fs.writeFileSync(path.join(src, "d/f.txt"), "abc");
    fs.symlinkSync("d/f.txt", path.join(src, "l"));
    const file = path.join(dir, "t.tar.gz");
    execFileSync("tar", ["-czf", file, "-C", src, "d", "l"]);
    expect(await listArchive(file)).toEqual([
      expect.objectContaining({ path: "d/", type: "dir" }),
      expect.objectContaining({ path: "d/f.txt", type: "file", size: 3 }),
      expect.objectContaining({ path: "l", type: "symlink", linkTarget: "d/f.txt" }),
    ]);
  });
});
