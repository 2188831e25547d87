import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ArchiveInvalidError, extractArchive, verifyArchive } from "@/server/backup/restore/extract";
import { gz, hostileCases, ourArchive, SAMPLE_ITEMS, tarArchive } from "../helpers/hostile-archives";

let base: string; // holds only the archive and `parent`
let parent: string; // holds only the destination folders and the sentinel
let sentinel: string;
let dbCheck: string;
let dest: { database: string; files: string; config: string };

const SENTINEL_TEXT = "do not touch\n";

beforeEach(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), "extract-hostile-"));
  parent = path.join(base, "parent");
  fs.mkdirSync(parent);
  sentinel = path.join(parent, "sentinel.txt");
  fs.writeFileSync(sentinel, SENTINEL_TEXT);
  dbCheck = path.join(base, "dbcheck");
  fs.mkdirSync(dbCheck);
  dest = { database: path.join(parent, "database"), files: path.join(parent, "files"), config: path.join(parent, "config") };
});
afterEach(() => {
  fs.rmSync(base, { recursive: true, force: true });
});

function writeArchive(data: Buffer): string {
  const file = path.join(base, "archive.tar.gz");
  fs.writeFileSync(file, data);
  return file;
}

/** Everything outside the destination folders is exactly as before. */
function expectNothingOutside(): void {
  expect(fs.readdirSync(base).sort()).toEqual(["archive.tar.gz", "dbcheck", "parent"]);
  for (const name of fs.readdirSync(parent)) expect(["config", "database", "files", "sentinel.txt"]).toContain(name);
  expect(fs.readFileSync(sentinel, "utf8")).toBe(SENTINEL_TEXT);
  expect(fs.readdirSync(dbCheck)).toEqual([]);
  expect(fs.existsSync(path.join(base, "..", "escaped.txt"))).toBe(false);
  expect(fs.existsSync("/tmp/baluhost-absolute.txt")).toBe(false);
}

async function refusal(p: Promise<unknown>): Promise<ArchiveInvalidError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ArchiveInvalidError);
  return err as ArchiveInvalidError;
}

describe("extractArchive refuses hostile archives", () => {
  for (const c of hostileCases()) {
    it(`refuses ${c.name}, naming the problem, and writes nothing outside the destinations`, async () => {
      const archivePath = writeArchive(c.archive);
      const err = await refusal(extractArchive({ archivePath, destinations: dest, limits: c.limits }));
      expect(err.code).toBe("ARCHIVE_INVALID");
      expect(err.httpStatus).toBe(422);
      expect(err.problem).toBe(c.problem);
      expect(err.message).toMatch(c.message);
      expect(err.message).toContain("archive.tar.gz");
      expect(err.message).toMatch(/nothing was restored\.$/);
      expectNothingOutside();
    });
  }
});

describe("verifyArchive refuses hostile archives", () => {
  for (const c of hostileCases()) {
    it(`refuses ${c.name}`, async () => {
      const archivePath = writeArchive(c.archive);
      const err = await refusal(verifyArchive(archivePath, { limits: c.limits, databaseCheckDir: dbCheck }));
      expect(err.problem).toBe(c.problem);
      expect(err.message).toMatch(c.message);
      expect(err.message).toMatch(/nothing was changed\.$/);
      expectNothingOutside();
    });
  }
});

describe("the destination cannot redirect writes", () => {
  it("does not write through a symlink already in the destination where a folder goes", async () => {
    const outside = path.join(base, "outside");
    fs.mkdirSync(outside);
    fs.mkdirSync(dest.files);
    fs.symlinkSync(outside, path.join(dest.files, "docs"));
    const archivePath = writeArchive(ourArchive(SAMPLE_ITEMS));
    const err = await extractArchive({ archivePath, destinations: dest }).then(
      () => null,
      (e: NodeJS.ErrnoException) => e,
    );
    expect(err?.code).toBe("EEXIST");
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it("does not open a symlink already in the destination where a file goes", async () => {
    const victim = path.join(base, "victim.txt");
    fs.writeFileSync(victim, "original");
    fs.mkdirSync(path.join(dest.files, "docs"), { recursive: true });
    fs.symlinkSync(victim, path.join(dest.files, "docs", "a.txt"));
    const archivePath = writeArchive(ourArchive(SAMPLE_ITEMS));
    const err = await extractArchive({ archivePath, destinations: dest }).then(
      () => null,
      (e: NodeJS.ErrnoException) => e,
    );
    expect(err?.code).toBe("EEXIST");
    expect(err?.message).toMatch(/restore folder must be empty/);
    expect(fs.readFileSync(victim, "utf8")).toBe("original");
  });
});

describe("permissions", () => {
  it("drops setuid, setgid and sticky bits", async () => {
    const archivePath = writeArchive(
      gz(
        tarArchive([
          { name: "backup/", type: "5" },
          { name: "backup/files/", type: "5" },
          { name: "backup/files/tool", body: "#!/bin/sh\n", mode: 0o6755 },
          { name: "backup/files/shared/", type: "5", mode: 0o1777 },
        ]),
      ),
    );
    await extractArchive({ archivePath, destinations: dest });
    expect(fs.statSync(path.join(dest.files, "tool")).mode & 0o7777).toBe(0o755);
    expect(fs.statSync(path.join(dest.files, "shared")).mode & 0o7777).toBe(0o777);
  });
});

describe("the process keeps working", () => {
  it("extracts a valid archive after refusing every hostile one", async () => {
    for (const c of hostileCases()) {
      await refusal(verifyArchive(writeArchive(c.archive), { limits: c.limits, databaseCheckDir: dbCheck }));
    }
    const written: string[] = [];
    const result = await extractArchive({ archivePath: writeArchive(ourArchive(SAMPLE_ITEMS)), destinations: dest, onWritten: (w) => written.push(w.path) });
    expect(written).toEqual(["files/docs/a.txt", "files/docs/b.txt"]);
    expect(result.filesWritten).toBe(2);
  });
});
