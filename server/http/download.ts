/**
 * Streaming a file over HTTP: single byte ranges (so a broken download of a large
 * archive can resume), conditional requests, and a Content-Disposition that no file name
 * can inject a header through. Conditional requests follow RFC 9110 section 13. The body is a stream read from disk as the client reads,
 * so memory stays flat whatever the file size.
 */
import fs from "node:fs";
import { Readable } from "node:stream";
import { jsonError } from "./json-error";

export type ByteRange = { start: number; end: number };

/**
 * Parses a Range header against a size. Returns the range, "unsatisfiable", or null to
 * serve the whole file (no header, a unit other than bytes, or several ranges, which a
 * server may answer with the whole representation).
 */
export function parseRange(header: string | null, size: number): ByteRange | "unsatisfiable" | null {
  if (!header) return null;
  const match = header.trim().match(/^bytes=(\d*)-(\d*)$/);
  if (!match) return header.trim().startsWith("bytes=") && !header.includes(",") ? "unsatisfiable" : null;
  const [, first, last] = match as unknown as [string, string, string];
  if (first === "" && last === "") return "unsatisfiable";
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (start >= size || end < start) return "unsatisfiable";
  return { start, end };
}

/** `attachment` with an ASCII fallback name and the exact name in RFC 5987 form. */
export function contentDisposition(filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]|["\\]/g, "_");
  // encodeURIComponent throws on a lone surrogate: replace it rather than fail the response.
  const wellFormed = filename.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");
  const encoded = encodeURIComponent(wellFormed).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

export interface FileToServe {
  path: string;
  filename: string;
  size: number;
  mtime: Date;
  etag: string;
  contentType: string;
}

/** The opaque tags of an If-None-Match / If-Match list, with their weakness; "*" alone is `"*"`. */
export function parseEntityTags(header: string): Array<{ weak: boolean; tag: string }> | "*" {
  if (header.trim() === "*") return "*";
  const tags: Array<{ weak: boolean; tag: string }> = [];
  for (const match of header.matchAll(/(W\/)?("[^"]*")/g)) tags.push({ weak: Boolean(match[1]), tag: match[2]! });
  return tags;
}

const opaque = (etag: string) => etag.replace(/^W\//, "");

/** RFC 9110 13.1.2: If-None-Match holds when no listed tag matches ours by weak comparison. */
function noneMatch(header: string, etag: string): boolean {
  const tags = parseEntityTags(header);
  if (tags === "*") return false;
  return !tags.some((t) => t.tag === opaque(etag));
}

/** An HTTP-date as a time in ms, or null when it is not one (an invalid date is ignored, RFC 9110 13.1.3). */
function httpDate(value: string): number | null {
  const time = Date.parse(value);
  return Number.isNaN(time) || !/GMT$|UTC$/i.test(value.trim()) ? null : time;
}

/** Last-Modified has one-second resolution: compare what the client saw, not our milliseconds. */
const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

/**
 * RFC 9110 13.2.2 order for GET/HEAD: If-None-Match decides when present (If-Modified-Since
 * is then ignored); else If-Modified-Since, when our Last-Modified is not later.
 */
export function isNotModified(req: Request, file: Pick<FileToServe, "etag" | "mtime">): boolean {
  const method = req.method.toUpperCase();
  if (method !== "GET" && method !== "HEAD") return false;
  const ifNoneMatch = req.headers.get("if-none-match");
  if (ifNoneMatch !== null) return !noneMatch(ifNoneMatch, file.etag);
  const ifModifiedSince = req.headers.get("if-modified-since");
  const since = ifModifiedSince === null ? null : httpDate(ifModifiedSince);
  return since !== null && seconds(file.mtime) <= Math.floor(since / 1000);
}

/**
 * RFC 9110 13.1.5: a Range is honoured only if If-Range names the current representation
 * by strong comparison (a weak tag never matches) or by its exact Last-Modified date.
 */
export function ifRangeHolds(header: string | null, file: Pick<FileToServe, "etag" | "mtime">): boolean {
  if (header === null) return true;
  const value = header.trim();
  if (value.startsWith("W/")) return false;
  if (value.startsWith('"')) return !file.etag.startsWith("W/") && value === file.etag;
  return value === file.mtime.toUTCString();
}

/** Builds the response for GET or HEAD of a file, honouring Range, If-Range, If-None-Match and If-Modified-Since. */
export function serveFile(req: Request, file: FileToServe): { response: Response; range: ByteRange | null } {
  const headers = new Headers({
    "Content-Type": file.contentType,
    "Content-Disposition": contentDisposition(file.filename),
    "Accept-Ranges": "bytes",
    ETag: file.etag,
    "Last-Modified": file.mtime.toUTCString(),
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
  });
  if (isNotModified(req, file)) {
    // No Content-Length: a 304 has no body, and a client must not take the length for one.
    return { response: new Response(null, { status: 304, headers }), range: null };
  }
  const range = ifRangeHolds(req.headers.get("if-range"), file) ? parseRange(req.headers.get("range"), file.size) : null;
  if (range === "unsatisfiable") {
    const message = `Range not satisfiable: the file has ${file.size} bytes.`;
    headers.set("Content-Range", `bytes */${file.size}`);
    headers.delete("Content-Disposition");
    headers.delete("Content-Type");
    const error = jsonError(416, "RANGE_NOT_SATISFIABLE", message, { size_bytes: file.size }, { headers });
    return { response: error, range: null };
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? file.size - 1;
  const length = file.size === 0 ? 0 : end - start + 1;
  headers.set("Content-Length", String(length));
  if (range) headers.set("Content-Range", `bytes ${start}-${end}/${file.size}`);
  const status = range ? 206 : 200;
  if (req.method === "HEAD" || length === 0) return { response: new Response(null, { status, headers }), range };
  const stream = fs.createReadStream(file.path, { start, end, highWaterMark: 1024 * 1024 });
  const body = Readable.toWeb(stream) as unknown as ReadableStream<Uint8Array>;
  return { response: new Response(body, { status, headers }), range };
}
