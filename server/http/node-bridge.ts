/**
 * Between Node's http objects and web-standard Request/Response, for the one handler that
 * must write to Node's response itself (the download: see pages/api/backups/[id]/download.ts).
 * The response body is piped with backpressure, never buffered, and a client that goes
 * away stops the read from disk.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

/** A bodiless Request with the Node request's method, URL and headers (the download reads no body). */
export function webRequestFromNode(req: IncomingMessage): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === "string") headers.set(name, value);
    else if (Array.isArray(value)) for (const v of value) headers.append(name, v);
  }
  const host = headers.get("host") ?? "localhost";
  return new Request(new URL(req.url ?? "/", `http://${host}`), { method: req.method ?? "GET", headers });
}

/**
 * Writes a Response to Node's response as is: status, every header (Content-Length
 * included, which Next drops from App Router responses) and the body.
 */
export async function sendWebResponse(req: IncomingMessage, res: ServerResponse, response: Response): Promise<void> {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) {
    if (name === "set-cookie") res.appendHeader(name, value);
    else res.setHeader(name, value);
  }
  if (!response.body || req.method === "HEAD") {
    await response.body?.cancel();
    res.end();
    return;
  }
  try {
    await pipeline(Readable.fromWeb(response.body as import("node:stream/web").ReadableStream<Uint8Array>), res);
  } catch (err) {
    // The client closing the connection mid-download is normal; anything else is not.
    if ((err as NodeJS.ErrnoException).code !== "ERR_STREAM_PREMATURE_CLOSE") throw err;
  }
}
