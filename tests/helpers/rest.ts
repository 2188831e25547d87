/**
 * Calling the REST route handlers directly, as Next would: a real Request and the
 * segment's params as a promise. Callers authenticate with a bearer API token (a request
 * without one goes to next-auth's getServerSession, which needs a Next request scope).
 */
import fs from "node:fs";
import { expect } from "vitest";
import { createApiToken } from "@/server/tokens";
import type { TestApp } from "./test-app";

export const BASE_URL = "http://localhost";

export interface RestInit {
  method?: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Sent as a JSON body with Content-Type application/json. */
  json?: unknown;
  /** A raw body (its Content-Type is up to `headers`). */
  body?: string;
  headers?: Record<string, string>;
}

export function restRequest(pathname: string, init: RestInit = {}): Request {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let body = init.body;
  if (init.json !== undefined) {
    headers["content-type"] ??= "application/json";
    body = JSON.stringify(init.json);
  }
  return new Request(`${BASE_URL}${pathname}`, { method: init.method ?? "GET", headers, body });
}

/** The second argument of a route handler under `[id]`. */
export function idSegment(id: string | number): { params: Promise<{ id: string }> } {
  return { params: Promise.resolve({ id: String(id) }) };
}

/** The second argument of a route handler without dynamic segments. */
export function noSegment(): { params: Promise<Record<string, never>> } {
  return { params: Promise.resolve({}) };
}

/** A fresh API token acting as the test app's admin or normal user. */
export function tokenFor(app: TestApp, who: "admin" | "user"): string {
  const user = who === "admin" ? app.admin : app.user;
  return createApiToken(app.db, { userId: user.id, name: `${who} test token` }).token;
}

/** Names in the backup folder (hidden ones included): what a refused request must not change. */
export function backupFolderNames(app: TestApp): string[] {
  return fs.existsSync(app.config.backupPath) ? fs.readdirSync(app.config.backupPath).sort() : [];
}

/**
 * The body of an error response: `{ error: { code, message }, detail }`. Every error goes
 * through here, so each one also checks that `detail` (what the real client shows) repeats
 * the message.
 */
export async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  const json = (await res.json()) as { error: { code: string; message: string }; detail: string };
  expect(json.detail).toBe(json.error.message);
  return json.error;
}
