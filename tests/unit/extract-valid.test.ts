import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { scanTree, writeBackupArchive, type WriteArchiveOptions } from "@/server/backup/archive";
import { readManifestFromArchive } from "@/server/backup/archive";
import { ArchiveInvalidError, extractArchive, verifyArchive, type ExtractOptions, type ExtractProgress, type WrittenFile } from "@/server/backup/restore/extract";
import { hashTree } from "../helpers/files";
import { gz, ourArchive, SAMPLE_ITEMS, tarArchive } from "../helpers/hostile-archives";
import { archiveMeta } from "../helpers/tree";

let dir: string;
let storage: string;
let dest: { database: string; files: string; config: string };

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "extract-valid-"));
  storage = path.join(dir, "storage");
  fs.mkdirSync(storage);
  dest = { database: path.join(dir, "out", "database"), files: path.join(dir, "out", "files"), config: path.join(dir, "out", "config") };
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function meta(overrides: Partial<WriteArchiveOptions["meta"]> = {}): WriteArchiveOptions["meta"] {
  return archiveMeta({ backup_type: "full", includes: { database: true, files: true, config: false }, ...overrides });
}

function put(rel: string, content: string | Buffer, mode?: number): void {
  const file = path.join(storage, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  if (mode !== undefined) fs.chmodSync(file, mode);
}

function makeDatabase(file: string): void {
  const db = new Database(file);
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('a'), ('b');");
  db.close();
}

/** Every folder and symlink under root (relative), with link targets; regular files are compared by hashTree. */
function shape(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      const rel = path.relative(root, full);
      if (e.isSymbolicLink()) out[rel] = `link:${fs.readlinkSync(full)}`;
      else if (e.isDirectory()) {
        out[rel] = `dir:${(fs.statSync(full).mode & 0o777).toString(8)}`;
        walk(full);
      } else out[rel] = `file:${(fs.statSync(full).mode & 0o777).toString(8)}`;
    }
  };
  walk(root);
  return out;
}

async function makeRealArchive(): Promise<{ archive: string; snapshot: string }> {
  put("docs/readme.txt", "hello\n");
  put("docs/private.txt", "secret\n", 0o600);
  put("docs/empty.txt", "");
  put("Fotos/Sommer Ürlaub/страна.jpg", crypto.randomBytes(3000));
  put("日本語/ファイル.md", "# こんにちは\n");
  const deep = Array.from({ length: 25 }, (_, i) => `level-${i}`).join("/");
  put(`${deep}/deep file with a long name.txt`, "deep\n");
  put("media/video.bin", crypto.randomBytes(5 * 1024 * 1024 + 123));
  fs.mkdirSync(path.join(storage, "empty-folder"));
  fs.chmodSync(path.join(storage, "empty-folder"), 0o700);
  fs.mkdirSync(path.join(storage, "shared"));
  fs.symlinkSync("../docs", path.join(storage, "shared", "docs-link"));
  fs.symlinkSync("readme.txt", path.join(storage, "docs", "latest"));
  // Targets over 100 bytes or not ASCII travel in a PAX linkpath record.
  fs.symlinkSync(`../${deep}/deep file with a long name.txt`, path.join(storage, "shared", "deep-link"));
  fs.symlinkSync("../日本語/ファイル.md", path.join(storage, "shared", "ユニコード"));
  const snapshot = path.join(dir, "snapshot.db");
  makeDatabase(snapshot);
  const archive = path.join(dir, "backup.tar.gz");
  await writeBackupArchive({ outputPath: archive, database: { snapshotPath: snapshot }, trees: [{ name: "files", root: storage }], meta: meta() });
  return { archive, snapshot };
}

/** extractArchive, collecting what it reports as written. */
async function extractCollecting(opts: ExtractOptions) {
  const written: WrittenFile[] = [];
  const result = await extractArchive({ ...opts, onWritten: (w) => written.push(w) });
  return { ...result, written };
}

describe("extractArchive with BaluHost archives", () => {
  it("extracts an archive made by writeBackupArchive byte for byte, with folders, links, modes and mtimes", async () => {
    const { archive, snapshot } = await makeRealArchive();
    const result = await extractCollecting({ archivePath: archive, destinations: dest });

    expect(result.filesWritten).toBe(result.written.length);
    expect(hashTree(dest.files)).toEqual(hashTree(storage));
    expect(shape(dest.files)).toEqual(shape(storage));
    expect(fs.readFileSync(path.join(dest.database, "baluhost.db")).equals(fs.readFileSync(snapshot))).toBe(true);
    expect(result.databaseFiles).toEqual(["baluhost.db"]);
    expect(result.manifest?.format).toBe("baluhost-backup");
    expect(result.manifest?.totals.files).toBe(result.written.length);
    const video = result.written.find((w) => w.path === "files/media/video.bin");
    expect(video?.sha256).toBe(crypto.createHash("sha256").update(fs.readFileSync(path.join(storage, "media/video.bin"))).digest("hex"));
    for (const e of (await readManifestFromArchive(archive)).entries) {
      if (e.type === "symlink" || !e.path.startsWith("files/")) continue;
      const restored = fs.lstatSync(path.join(dest.files, e.path.replace(/^files\//, "")));
      expect(Math.abs(restored.mtimeMs - e.mtime), e.path).toBeLessThan(1);
    }
  });

  it("reports progress up to the whole compressed size", async () => {
    const { archive } = await makeRealArchive();
    const seen: ExtractProgress[] = [];
    const result = await extractArchive({ archivePath: archive, destinations: dest, onProgress: (p) => seen.push(p) });
    const last = seen[seen.length - 1];
    expect(last.compressedBytesRead).toBe(fs.statSync(archive).size);
    expect(last.compressedBytesTotal).toBe(fs.statSync(archive).size);
    expect(last.entriesDone).toBe(result.entries);
  });

  it("writes only the wanted entries but still checks the whole archive", async () => {
    const { archive } = await makeRealArchive();
    const result = await extractCollecting({ archivePath: archive, destinations: dest, wanted: (p) => p === "files/docs/readme.txt" });
    expect(result.written.map((w) => w.path)).toEqual(["files/docs/readme.txt"]);
    expect(hashTree(path.join(dir, "out"))).toEqual({ "files/docs/readme.txt": expect.any(String) });
    expect(result.databaseFiles).toEqual([]);

    const tampered = path.join(dir, "tampered.tar.gz");
    fs.writeFileSync(tampered, ourArchive(SAMPLE_ITEMS, { tamper: (p, b) => (p === "files/docs/b.txt" ? Buffer.from("other\n") : b) }));
    const err = await extractArchive({ archivePath: tampered, destinations: { files: path.join(dir, "out2") }, wanted: (p) => p === "files/docs/a.txt" }).catch((e) => e);
    expect(err).toBeInstanceOf(ArchiveInvalidError);
    expect((err as Error).message).toMatch(/files\/docs\/b\.txt/);
  });

  it("parses without writing parts that have no destination", async () => {
    const { archive } = await makeRealArchive();
    const result = await extractCollecting({ archivePath: archive, destinations: { database: dest.database } });
    expect(result.written.map((w) => w.path)).toEqual(["database/baluhost.db"]);
    expect(fs.existsSync(dest.files)).toBe(false);
  });

  it("accepts an incremental whose unchanged files are listed but not stored", async () => {
    put("a.txt", "changed");
    put("b.txt", "unchanged");
    const archive = path.join(dir, "incr.tar.gz");
    await writeBackupArchive({
      outputPath: archive,
      trees: [
        {
          name: "files",
          root: storage,
          entries: (await scanTree(storage)).map((e) => (e.path === "b.txt" ? { ...e, unchangedSha256: "0".repeat(64) } : e)),
        },
      ],
      meta: meta({ backup_type: "incremental", includes: { database: false, files: true, config: false }, parent: { id: 1, filename: "backup_20250101_000000.tar.gz" } }),
    });
    const copy = path.join(dir, "manifest-copy.json");
    const result = await extractCollecting({ archivePath: archive, destinations: dest, manifestCopyPath: copy });
    expect(result.written.map((w) => w.path)).toEqual(["files/a.txt"]);
    expect(result.manifest?.totals).toMatchObject({ files: 2, archived_files: 1 });
    // The copy saved on the way is the manifest, whole.
    const listed = JSON.parse(fs.readFileSync(copy, "utf8")) as { entries: Array<{ path: string; in_archive: boolean }> };
    expect(listed.entries.find((e) => e.path === "files/b.txt")?.in_archive).toBe(false);
  });

  it("rejects with an AbortError when cancelled", async () => {
    const { archive } = await makeRealArchive();
    const controller = new AbortController();
    let calls = 0;
    const err = await extractArchive({
      archivePath: archive,
      destinations: dest,
      onProgress: () => {
        if (++calls === 1) controller.abort();
      },
      signal: controller.signal,
    }).catch((e) => e);
    expect((err as Error).name).toBe("AbortError");
  });
});

describe("extractArchive with foreign archives (spec layout, no manifest)", () => {
  function makeForeign(): string {
    const src = path.join(dir, "foreign");
    const dbDir = path.join(src, "backup", "database");
    fs.mkdirSync(dbDir, { recursive: true });
    // A live WAL database: rows still in the -wal, copied while the connection is open.
    const live = path.join(dir, "live.db");
    const db = new Database(live);
    db.pragma("journal_mode = WAL");
    db.pragma("wal_autocheckpoint = 0");
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('in the wal');");
    fs.copyFileSync(live, path.join(dbDir, "baluhost.db"));
    fs.copyFileSync(`${live}-wal`, path.join(dbDir, "baluhost.db-wal"));
    db.close();
    const files = path.join(src, "backup", "files");
    fs.mkdirSync(path.join(files, "docs"), { recursive: true });
    fs.writeFileSync(path.join(files, "docs", "a.txt"), "from another machine\n");
    const long = `${"long-folder-name-".repeat(8)}/file-with-a-long-name.txt`; // > 100 bytes: GNU long-name header
    fs.mkdirSync(path.join(files, path.dirname(long)), { recursive: true });
    fs.writeFileSync(path.join(files, long), "long\n");
    const archive = path.join(dir, "foreign.tar.gz");
    execFileSync("tar", ["-czf", archive, "-C", src, "backup"]);
    return archive;
  }

  it("extracts a GNU tar archive with manifest null and the -wal kept", async () => {
    const archive = makeForeign();
    const result = await extractArchive({ archivePath: archive, destinations: dest });
    expect(result.manifest).toBeNull();
    expect(result.databaseFiles.sort()).toEqual(["baluhost.db", "baluhost.db-wal"]);
    expect(fs.readdirSync(dest.database).sort()).toEqual(["baluhost.db", "baluhost.db-wal"]);
    expect(hashTree(dest.files)).toEqual(hashTree(path.join(dir, "foreign", "backup", "files")));
    const db = new Database(path.join(dest.database, "baluhost.db"), { readonly: true });
    expect(db.prepare("SELECT v FROM t").get()).toEqual({ v: "in the wal" });
    db.close();
  });

  it("verifies a GNU tar archive, checking its database with the -wal applied", async () => {
    const archive = makeForeign();
    const result = await verifyArchive(archive, { databaseCheckDir: dir });
    expect(result).toMatchObject({ manifest: null, fileCount: 4, databaseIntegrity: "ok" });
    expect(fs.readdirSync(dir).filter((n) => n.startsWith("baluhost-verify-"))).toEqual([]);
  });
});

describe("verifyArchive", () => {
  it("accepts a valid archive and checks its database", async () => {
    const { archive } = await makeRealArchive();
    const checkDir = path.join(dir, "check");
    fs.mkdirSync(checkDir);
    const result = await verifyArchive(archive, { databaseCheckDir: checkDir });
    expect(result.databaseIntegrity).toBe("ok");
    expect(result.fileCount).toBe(result.manifest!.totals.files);
    expect(result.entries).toBeGreaterThan(result.fileCount);
    expect(fs.readdirSync(checkDir)).toEqual([]);
    expect(fs.existsSync(path.join(dir, "out"))).toBe(false);
  });

  it("reports an archive without a database as absent", async () => {
    const archive = path.join(dir, "files.tar.gz");
    fs.writeFileSync(archive, ourArchive(SAMPLE_ITEMS));
    expect((await verifyArchive(archive)).databaseIntegrity).toBe("absent");
  });

  it("refuses an archive whose database is not a healthy SQLite file", async () => {
    const archive = path.join(dir, "bad-db.tar.gz");
    fs.writeFileSync(archive, ourArchive(SAMPLE_ITEMS, { database: Buffer.from("SQLite format 3\u0000 but not really") }));
    const err = await verifyArchive(archive, { databaseCheckDir: dir }).catch((e) => e);
    expect(err).toBeInstanceOf(ArchiveInvalidError);
    expect((err as ArchiveInvalidError).problem).toBe("database");
    expect((err as Error).message).toMatch(/backup\/database\/baluhost\.db/);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith("baluhost-verify-"))).toEqual([]);
  });

  it("accepts GNU tar's trailing zero padding after the end marker", async () => {
    const archive = path.join(dir, "padded.tar.gz");
    fs.writeFileSync(archive, gz(tarArchive([{ name: "backup/", type: "5" }, { name: "backup/files/a.txt", body: "a" }], { after: Buffer.alloc(9 * 512) })));
    expect((await verifyArchive(archive)).fileCount).toBe(1);
  });
});
