import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { Header, Pax } from "tar";
import { encodeTarHeader, paxRecord } from "@/server/backup/archive/tar-header";

/** Decodes our header block(s) with npm tar's own decoder. */
function decode(buf: Buffer): Header {
  if (buf.length === 512) return new Header(buf);
  const paxHead = new Header(buf.subarray(0, 512));
  const bodyLen = paxHead.size ?? 0;
  const pax = Pax.parse(buf.subarray(512, 512 + bodyLen).toString("utf8"));
  return new Header(buf.subarray(buf.length - 512), 0, pax);
}

describe("encodeTarHeader", () => {
  it("writes a plain ustar header with a valid checksum for a short ASCII path", () => {
    const buf = encodeTarHeader({ path: "backup/files/a.txt", type: "file", size: 1234, mode: 0o644, mtimeMs: 1_700_000_000_999 });
    expect(buf.length).toBe(512);
    const h = new Header(buf);
    expect(h.cksumValid).toBe(true);
    expect(h).toMatchObject({ path: "backup/files/a.txt", type: "File", size: 1234, mode: 0o644, uid: 0, gid: 0 });
    expect(h.mtime?.getTime()).toBe(1_700_000_000_000);
    expect(buf.subarray(257, 263).toString("latin1")).toBe("ustar\0");
  });

  it("marks directories with a trailing slash", () => {
    const h = decode(encodeTarHeader({ path: "backup/files/d", type: "dir", size: 0, mode: 0o755, mtimeMs: 0 }));
    expect(h).toMatchObject({ path: "backup/files/d/", type: "Directory", size: 0 });
  });

  it("stores a symlink's target in the link field", () => {
    const h = decode(encodeTarHeader({ path: "backup/files/l", type: "symlink", size: 0, mode: 0o777, mtimeMs: 0, linkTarget: "../x" }));
    expect(h).toMatchObject({ type: "SymbolicLink", linkpath: "../x", size: 0 });
  });

  it("uses a PAX header for paths over 100 bytes", () => {
    const long = `backup/files/${"deep/".repeat(60)}file.txt`;
    const buf = encodeTarHeader({ path: long, type: "file", size: 1, mode: 0o600, mtimeMs: 0 });
    expect(buf.length).toBeGreaterThan(512);
    expect(decode(buf)).toMatchObject({ path: long, size: 1 });
  });

  it("uses a PAX header for non-ASCII names and link targets", () => {
    const buf = encodeTarHeader({ path: "backup/files/café ☕", type: "symlink", size: 0, mode: 0o777, mtimeMs: 0, linkTarget: "Ürlaub/😀" });
    expect(decode(buf)).toMatchObject({ path: "backup/files/café ☕", linkpath: "Ürlaub/😀" });
  });

  it("encodes sizes of 8 GiB and more in base 256 and in PAX", () => {
    const size = 9 * 1024 ** 3 + 5;
    const buf = encodeTarHeader({ path: "backup/files/huge.img", type: "file", size, mode: 0o644, mtimeMs: 0 });
    expect(decode(buf).size).toBe(size);
    expect(new Header(buf.subarray(buf.length - 512)).size).toBe(size); // base-256 field alone
  });

  it("writes a big size and an old mtime that GNU tar reads", () => {
    const header = encodeTarHeader({ path: "backup/files/huge.img", type: "file", size: 9 * 1024 ** 3 + 5, mode: 0o644, mtimeMs: -86_400_000 });
    // GNU tar lists the entry, then stops at the missing body.
    const listing = spawnSync("tar", ["-tv", "--utc"], { input: header, encoding: "utf8" }).stdout;
    expect(listing).toMatch(/^-rw-r--r-- 0\/0 +9663676421 1969-12-31 00:00 backup\/files\/huge.img$/m);
  });

  it("keeps mtimes before 1970 through PAX", () => {
    const buf = encodeTarHeader({ path: "backup/files/old", type: "file", size: 0, mode: 0o644, mtimeMs: -86_400_000 });
    expect(decode(buf).mtime?.getTime()).toBe(-86_400_000);
  });
});

describe("paxRecord", () => {
  it("counts its own length digits", () => {
    for (const v of ["x", "y".repeat(90), "z".repeat(93), "w".repeat(994)]) {
      const rec = paxRecord("path", v);
      expect(Number(rec.split(" ")[0])).toBe(Buffer.byteLength(rec));
    }
  });
});
