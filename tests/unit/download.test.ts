import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contentDisposition, isNotModified, parseEntityTags, parseRange, serveFile, type FileToServe } from "@/server/http/download";

describe("parseRange", () => {
  it("reads a closed range", () => {
    expect(parseRange("bytes=0-99", 1000)).toEqual({ start: 0, end: 99 });
  });

  it("reads an open-ended range up to the last byte", () => {
    expect(parseRange("bytes=100-", 1000)).toEqual({ start: 100, end: 999 });
  });

  it("reads a suffix range as the last bytes of the file", () => {
    expect(parseRange("bytes=-50", 1000)).toEqual({ start: 950, end: 999 });
  });

  it("serves the whole file for a suffix longer than the file", () => {
    expect(parseRange("bytes=-5000", 1000)).toEqual({ start: 0, end: 999 });
  });

  it("clamps an end beyond the size to the last byte", () => {
    expect(parseRange("bytes=900-5000", 1000)).toEqual({ start: 900, end: 999 });
  });

  it("treats a start at the size as unsatisfiable", () => {
    expect(parseRange("bytes=1000-", 1000)).toBe("unsatisfiable");
  });

  it("treats a start beyond the size as unsatisfiable", () => {
    expect(parseRange("bytes=2000-3000", 1000)).toBe("unsatisfiable");
  });

  it("treats an empty suffix bytes=-0 as unsatisfiable", () => {
    expect(parseRange("bytes=-0", 1000)).toBe("unsatisfiable");
  });

  it("treats any range of an empty file as unsatisfiable", () => {
    expect(parseRange("bytes=0-", 0)).toBe("unsatisfiable");
  });

  it("serves the whole file for several ranges", () => {
    expect(parseRange("bytes=0-10,20-30", 1000)).toBeNull();
  });

  it("serves the whole file for a unit other than bytes", () => {
    expect(parseRange("items=0-10", 1000)).toBeNull();
  });

  it("serves the whole file when there is no Range header", () => {
    expect(parseRange(null, 1000)).toBeNull();
  });

  it("treats a garbage bytes range as unsatisfiable", () => {
    expect(parseRange("bytes=abc", 1000)).toBe("unsatisfiable");
  });

  it("treats bytes=- with neither end as unsatisfiable", () => {
    expect(parseRange("bytes=-", 1000)).toBe("unsatisfiable");
  });
});

describe("parseEntityTags", () => {
  it("reads a list of strong and weak tags", () => {
    expect(parseEntityTags(`"a", W/"b",   "c,d"`)).toEqual([
      { weak: false, tag: '"a"' },
      { weak: true, tag: '"b"' },
      { weak: false, tag: '"c,d"' },
    ]);
  });

  it("reads * as any representation", () => {
    expect(parseEntityTags(" * ")).toBe("*");
  });
});

describe("contentDisposition", () => {
  it("names a plain file as an attachment in both forms", () => {
    expect(contentDisposition("backup_20250101_120000.tar.gz")).toBe(
      `attachment; filename="backup_20250101_120000.tar.gz"; filename*=UTF-8''backup_20250101_120000.tar.gz`,
    );
  });

  const hostile = 'evil"; filename="x.sh\\\r\nSet-Cookie: a=b\nünïcødé ✓ 😀.tar.gz';

  it("never lets a hostile name break the header onto a new line", () => {
    const value = contentDisposition(hostile);
    expect(value).not.toMatch(/[\r\n\0]/);
    // Headers refuses a value a server could not send as one header line.
    expect(() => new Headers({ "Content-Disposition": value })).not.toThrow();
    expect(new Headers({ "Content-Disposition": value }).get("Content-Disposition")).toBe(value);
  });

  it("never lets a hostile name close the quoted filename early", () => {
    const value = contentDisposition(hostile);
    const quoted = value.match(/^attachment; filename="((?:[^"\\]|\\.)*)"; filename\*=UTF-8''(\S+)$/);
    expect(quoted).not.toBeNull();
    const [, fallback, encoded] = quoted!;
    expect(fallback).not.toMatch(/["\\]/);
    expect(fallback).toMatch(/^[\x20-\x7e]*$/);
    // filename* is pure RFC 5987 attr-char / pct-encoded, so nothing in it can be a delimiter.
    expect(encoded).toMatch(/^(?:[A-Za-z0-9!#$&+\-.^_`|~]|%[0-9A-F]{2})+$/);
  });

  it("still produces a header for a name with a lone surrogate", () => {
    const value = contentDisposition("broken-\uD800-name.tar.gz");
    expect(value).toContain(`filename*=UTF-8''broken-%EF%BF%BD-name.tar.gz`);
    expect(() => new Headers({ "Content-Disposition": value })).not.toThrow();
  });

  it("carries the exact name, percent-encoded, in filename*", () => {
    const encoded = contentDisposition(hostile).split("filename*=UTF-8''")[1]!;
    expect(decodeURIComponent(encoded)).toBe(hostile);
  });
});

describe("serveFile", () => {
  let dir: string;
  let file: FileToServe;
  let content: Buffer;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "baluhost-download-"));
    content = crypto.randomBytes(3 * 1024 * 1024 + 17);
    const filePath = path.join(dir, "backup_20250101_120000.tar.gz");
    fs.writeFileSync(filePath, content);
    const stat = fs.statSync(filePath);
    file = {
      path: filePath,
      filename: "backup_20250101_120000.tar.gz",
      size: stat.size,
      mtime: stat.mtime,
      etag: `"${crypto.createHash("sha256").update(content).digest("hex")}"`,
      contentType: "application/gzip",
    };
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function get(headers: Record<string, string> = {}, method = "GET"): Request {
    return new Request("http://localhost/api/backups/1/download", { method, headers });
  }

  async function bodyOf(res: Response): Promise<Buffer> {
    return Buffer.from(await res.arrayBuffer());
  }

  it("serves the whole file with its validators and length", async () => {
    const { response, range } = serveFile(get(), file);
    expect(response.status).toBe(200);
    expect(range).toBeNull();
    expect(response.headers.get("Content-Type")).toBe("application/gzip");
    expect(response.headers.get("Content-Length")).toBe(String(content.length));
    expect(response.headers.get("ETag")).toBe(file.etag);
    expect(response.headers.get("Last-Modified")).toBe(file.mtime.toUTCString());
    expect(response.headers.get("Accept-Ranges")).toBe("bytes");
    expect(response.headers.get("Content-Range")).toBeNull();
    expect((await bodyOf(response)).equals(content)).toBe(true);
  });

  it("serves a byte range as 206 with the exact slice", async () => {
    const { response, range } = serveFile(get({ Range: "bytes=1048570-1048679" }), file);
    expect(response.status).toBe(206);
    expect(range).toEqual({ start: 1048570, end: 1048679 });
    expect(response.headers.get("Content-Range")).toBe(`bytes 1048570-1048679/${content.length}`);
    expect(response.headers.get("Content-Length")).toBe("110");
    expect((await bodyOf(response)).equals(content.subarray(1048570, 1048680))).toBe(true);
  });

  it("serves a suffix range as the last bytes of the file", async () => {
    const { response } = serveFile(get({ Range: "bytes=-10" }), file);
    expect(response.status).toBe(206);
    expect(response.headers.get("Content-Range")).toBe(`bytes ${content.length - 10}-${content.length - 1}/${content.length}`);
    expect((await bodyOf(response)).equals(content.subarray(content.length - 10))).toBe(true);
  });

  it("answers an unsatisfiable range with a JSON 416 naming the real size", async () => {
    const { response } = serveFile(get({ Range: `bytes=${content.length}-` }), file);
    expect(response.status).toBe(416);
    expect(response.headers.get("Content-Range")).toBe(`bytes */${content.length}`);
    expect(response.headers.get("Content-Disposition")).toBeNull();
    expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
    const body = (await response.json()) as { error: { code: string; message: string; size_bytes: number }; detail: string };
    expect(body.error).toMatchObject({ code: "RANGE_NOT_SATISFIABLE", size_bytes: content.length });
    expect(body.error.message).toContain(String(content.length));
    expect(body.detail).toBe(body.error.message);
  });

  it("ignores the range and serves the whole file when If-Range holds a stale etag", async () => {
    const { response, range } = serveFile(get({ Range: "bytes=0-99", "If-Range": '"stale"' }), file);
    expect(response.status).toBe(200);
    expect(range).toBeNull();
    expect(response.headers.get("Content-Length")).toBe(String(content.length));
    expect((await bodyOf(response)).equals(content)).toBe(true);
  });

  it("honours the range when If-Range holds the current etag", async () => {
    const { response } = serveFile(get({ Range: "bytes=0-99", "If-Range": file.etag }), file);
    expect(response.status).toBe(206);
    expect((await bodyOf(response)).equals(content.subarray(0, 100))).toBe(true);
  });

  it("answers 304 without a body when If-None-Match matches the etag", async () => {
    const { response } = serveFile(get({ "If-None-Match": file.etag }), file);
    expect(response.status).toBe(304);
    expect(response.body).toBeNull();
    expect(response.headers.get("ETag")).toBe(file.etag);
  });

  it("serves the whole file when If-None-Match names another version", async () => {
    const { response } = serveFile(get({ "If-None-Match": '"other"' }), file);
    expect(response.status).toBe(200);
    await response.body?.cancel();
  });

  it("answers 304 to a weak If-None-Match naming the same tag (weak comparison)", () => {
    expect(serveFile(get({ "If-None-Match": `W/${file.etag}` }), file).response.status).toBe(304);
  });

  it("answers 304 when any tag of an If-None-Match list matches", () => {
    expect(serveFile(get({ "If-None-Match": `"a", W/"b", ${file.etag}` }), file).response.status).toBe(304);
  });

  it("answers 304 to If-None-Match: *", () => {
    expect(serveFile(get({ "If-None-Match": "*" }), file).response.status).toBe(304);
  });

  it("sends no Content-Length and no body with a 304", () => {
    const { response } = serveFile(get({ "If-None-Match": file.etag }), file);
    expect(response.headers.get("Content-Length")).toBeNull();
    expect(response.body).toBeNull();
  });

  it("answers 304 to If-Modified-Since equal to Last-Modified, to the second", () => {
    expect(serveFile(get({ "If-Modified-Since": file.mtime.toUTCString() }), file).response.status).toBe(304);
  });

  it("serves the whole file when If-Modified-Since is before Last-Modified", async () => {
    const earlier = new Date(file.mtime.getTime() - 2000).toUTCString();
    const { response } = serveFile(get({ "If-Modified-Since": earlier }), file);
    expect(response.status).toBe(200);
    await response.body?.cancel();
  });

  it("ignores an If-Modified-Since that is not an HTTP-date", async () => {
    const { response } = serveFile(get({ "If-Modified-Since": "yesterday" }), file);
    expect(response.status).toBe(200);
    await response.body?.cancel();
  });

  it("lets If-None-Match decide over If-Modified-Since when both are sent", async () => {
    const later = new Date(file.mtime.getTime() + 60_000).toUTCString();
    const { response } = serveFile(get({ "If-None-Match": '"other"', "If-Modified-Since": later }), file);
    expect(response.status).toBe(200);
    await response.body?.cancel();
  });

  it("ignores If-Modified-Since on a method other than GET and HEAD", () => {
    const req = new Request("http://localhost/x", { method: "POST", headers: { "If-Modified-Since": file.mtime.toUTCString() } });
    expect(isNotModified(req, file)).toBe(false);
  });

  it("ignores the range when If-Range holds a weak tag, even the current one (strong comparison)", async () => {
    const { response } = serveFile(get({ Range: "bytes=0-99", "If-Range": `W/${file.etag}` }), file);
    expect(response.status).toBe(200);
    await response.body?.cancel();
  });

  it("honours the range when If-Range holds the exact Last-Modified date", async () => {
    const { response } = serveFile(get({ Range: "bytes=0-99", "If-Range": file.mtime.toUTCString() }), file);
    expect(response.status).toBe(206);
    expect((await bodyOf(response)).equals(content.subarray(0, 100))).toBe(true);
  });

  it("ignores the range when If-Range holds another date", async () => {
    const other = new Date(file.mtime.getTime() + 5000).toUTCString();
    const { response } = serveFile(get({ Range: "bytes=0-99", "If-Range": other }), file);
    expect(response.status).toBe(200);
    await response.body?.cancel();
  });

  it("answers HEAD with the length and no body", async () => {
    const { response } = serveFile(get({}, "HEAD"), file);
    expect(response.status).toBe(200);
    expect(response.body).toBeNull();
    expect(response.headers.get("Content-Length")).toBe(String(content.length));
  });

  it("answers a ranged HEAD with 206, the range and no body", async () => {
    const { response } = serveFile(get({ Range: "bytes=0-99" }, "HEAD"), file);
    expect(response.status).toBe(206);
    expect(response.body).toBeNull();
    expect(response.headers.get("Content-Length")).toBe("100");
    expect(response.headers.get("Content-Range")).toBe(`bytes 0-99/${content.length}`);
  });

  it("sends the download as an attachment that is never cached or sniffed", () => {
    const { response } = serveFile(get({}, "HEAD"), file);
    expect(response.headers.get("Content-Disposition")).toMatch(/^attachment; filename="backup_20250101_120000\.tar\.gz"/);
    expect(response.headers.get("Cache-Control")).toContain("no-store");
    expect(response.headers.get("X-Content-Type-Options")).toBe("nosniff");
  });

  it("serves an empty file as 200 with length 0", async () => {
    const emptyPath = path.join(dir, "empty.tar.gz");
    fs.writeFileSync(emptyPath, "");
    const { response } = serveFile(get(), { ...file, path: emptyPath, size: 0 });
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Length")).toBe("0");
    expect((await bodyOf(response)).length).toBe(0);
  });
});
