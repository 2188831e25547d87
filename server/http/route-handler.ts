/**
 * The wrapper every REST route handler goes through (route handlers get no tRPC
 * middleware): it refuses cross-site mutations, resolves the caller from a bearer token
 * or the session, enforces the role, and turns any thrown error into a JSON response with
 * the status of its AppError code. Unknown errors become a generic 500; the real error is
 * logged, never sent.
 */
import { ZodError, z } from "zod";
import { getDb, type AppDatabase } from "@/db/client";
import type { Actor } from "../audit";
import { clientIpFromHeaders } from "../auth/headers";
import { MONITORING_TOKEN_REFUSAL, resolveRequestUser, urlToken, type RequestUser, type SessionReader } from "../auth/request";
import { assertNoRestoreRunning } from "../backup/lock";
import { getConfig } from "../config";
import { AppError, GENERIC_INTERNAL_MESSAGE } from "../errors";
import { ensureStarted } from "../startup";
import { crossSiteRefusal } from "./cross-site";
import { jsonError } from "./json-error";

export interface RouteContext<P> {
  req: Request;
  params: P;
  user: RequestUser;
  actor: Actor;
  db: AppDatabase;
}

export { jsonError };

export function errorResponse(err: unknown): Response {
  if (err instanceof AppError) return jsonError(err.httpStatus, err.code, err.message);
  if (err instanceof ZodError) {
    const flat = z.flattenError(err);
    const first = err.issues[0];
    const where = first?.path.length ? `${first.path.join(".")}: ` : "";
    return jsonError(400, "BAD_REQUEST", `${where}${first?.message ?? "Invalid input."}`, { fieldErrors: flat.fieldErrors });
  }
  console.error("[api] unexpected error:", err);
  return jsonError(500, "INTERNAL", GENERIC_INTERNAL_MESSAGE);
}

/** Reads a JSON request body; a missing or malformed body is a 400 that says so. */
export async function readJsonBody(req: Request): Promise<unknown> {
  const type = req.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", "Send the request body as JSON (Content-Type: application/json).");
  }
  const text = await req.text();
  if (!text.trim()) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError("BAD_REQUEST", "The request body is not valid JSON.");
  }
}

type Handler<P> = (ctx: RouteContext<P>) => Promise<Response> | Response;

export interface AdminRouteOptions<P> {
  /**
   * Accepts a credential in `?token=` on GET and HEAD, checked by this function. Only the
   * download route passes one (plain `<a href>` links cannot send a header); every other
   * route ignores `?token=`.
   */
  urlCredential?: (token: string, ctx: { params: P; db: AppDatabase }) => Promise<RequestUser | null> | RequestUser | null;
  /** Accepts a monitoring-scope API token too (only the read-only health and metrics routes). */
  acceptMonitoringToken?: boolean;
}

/** What a transport other than the App Router hands in (a Pages API route reads the session differently). */
export interface RouteTransport {
  readSession?: SessionReader;
}

const SAFE_METHODS = ["GET", "HEAD"];

function unauthenticated(req: Request): Response {
  // A script that put its API token in the URL learns why it is refused, not just that it is.
  const hint = urlToken(req) !== null ? " A token in the URL is accepted only by the download route." : "";
  return jsonError(401, "UNAUTHORIZED", `Sign in or send an API token (Authorization: Bearer ...).${hint}`);
}

/** Wraps a route handler that only admins may call. */
export function adminRoute<P = Record<string, never>>(handler: Handler<P>, options: AdminRouteOptions<P> = {}) {
  return async (req: Request, segment: { params: Promise<P> }, transport: RouteTransport = {}): Promise<Response> => {
    try {
      ensureStarted();
      const refusal = crossSiteRefusal(req);
      if (refusal) return jsonError(403, "FORBIDDEN", refusal);
      const params = await segment.params;
      const method = req.method.toUpperCase();
      const { urlCredential } = options;
      const user = await resolveRequestUser(req, {
        readSession: transport.readSession,
        acceptMonitoringToken: options.acceptMonitoringToken,
        urlCredential: urlCredential && SAFE_METHODS.includes(method) ? (token) => urlCredential(token, { params, db: getDb() }) : undefined,
      });
      if (!user) return unauthenticated(req);
      if (user.role !== "admin") return jsonError(403, "FORBIDDEN", "Only administrators can do this.");
      // Read-only by definition, whatever route opts in to it.
      if (user.scope === "monitoring" && !SAFE_METHODS.includes(method)) return jsonError(403, "FORBIDDEN", MONITORING_TOKEN_REFUSAL);
      if (!SAFE_METHODS.includes(method)) assertNoRestoreRunning(getConfig().backupPath);
      const actor: Actor = {
        id: user.id,
        username: user.username,
        ip: clientIpFromHeaders(req.headers),
        userAgent: req.headers.get("user-agent"),
      };
      return await handler({ req, params, user, actor, db: getDb() });
    } catch (err) {
      return errorResponse(err);
    }
  };
}

/**
 * A handler for the methods a route does not implement: 405 JSON with an `Allow` header
 * listing the ones it does. Next's own 405 has neither a body nor `Allow`. Export it
 * under each missing method name: `export { refused as PUT, refused as PATCH }`.
 */
export function methodNotAllowed(...allowed: string[]): (req: Request) => Response {
  const allow = [...new Set([...allowed, ...(allowed.includes("GET") ? ["HEAD"] : []), "OPTIONS"])].join(", ");
  return (req) =>
    jsonError(405, "METHOD_NOT_ALLOWED", `${req.method} is not supported here; use ${allow}.`, undefined, { headers: { Allow: allow } });
}
