/**
 * Streaming a file over HTTP: single byte ranges (so a broken download of a large
 * archive can resume), conditional requests, and a Content-Disposition that no file name
 * can inject a header through. The body is a stream read from disk as the client reads,
 * so memory stays flat whatever the file size.
 */
import fs from "node:fs";
import { Readable } from "node:stream";

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

/** Builds the response for GET or HEAD of a file, honouring Range, If-Range and If-None-Match. */
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
  if (req.headers.get("if-none-match") === file.etag) {
    return { response: new Response(null, { status: 304, headers }), range: null };
  }
  const ifRange = req.headers.get("if-range");
  const rangeAllowed = !ifRange || ifRange === file.etag || ifRange === file.mtime.toUTCString();
  const range = rangeAllowed ? parseRange(req.headers.get("range"), file.size) : null;
  if (range === "unsatisfiable") {
    headers.set("Content-Range", `bytes */${file.size}`);
    headers.delete("Content-Disposition");
    headers.set("Content-Type", "text/plain; charset=utf-8");
    return { response: new Response(`Range not satisfiable: the file has ${file.size} bytes.`, { status: 416, headers }), range: null };
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
