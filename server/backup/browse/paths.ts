/**
 * Paths a client names inside a backup. They are archive paths relative to `backup/`
 * ("files/alice/a.txt", "config/nas.json", "" for the root), never filesystem paths: they
 * are checked here for shape, then looked up in the backup's index, and only an entry found
 * there is ever mapped to a place on disk (by restore-paths.ts, under the storage folder).
 */
import { AppError } from "../../errors";

export const MAX_REQUEST_PATH_BYTES = 4096;

/** The path in its canonical form (no trailing slash), or BAD_REQUEST saying what is wrong. */
export function checkRequestPath(raw: string): string {
  const refuse = (why: string): never => {
    throw new AppError("BAD_REQUEST", `The path ${JSON.stringify(raw.slice(0, 200))} is not a path inside the backup: ${why}.`);
  };
  if (typeof raw !== "string") refuse("it is not text");
  if (raw.includes("\0")) refuse("it contains a NUL byte");
  if (Buffer.byteLength(raw, "utf8") > MAX_REQUEST_PATH_BYTES) refuse(`it is longer than ${MAX_REQUEST_PATH_BYTES} bytes`);
  if (raw.startsWith("/") || raw.startsWith("~")) refuse("paths are relative to the backup, like files/alice/report.pdf");
  if (/^[A-Za-z]:/.test(raw) || raw.includes("\\")) refuse("it looks like a Windows path");
  const p = raw.replace(/\/+$/, "");
  if (p === "") return "";
  for (const seg of p.split("/")) {
    if (seg === "..") refuse('".." is not allowed');
    if (seg === ".") refuse('"." is not allowed');
    if (seg === "") refuse("it has an empty segment (//)");
  }
  return p;
}

/** The live root an archive part maps to, and the path below it; null for parts with no live tree (the database). */
export function livePart(p: string): { part: "files" | "config"; rel: string } | null {
  const [top, ...rest] = p.split("/");
  if (top !== "files" && top !== "config") return null;
  return { part: top, rel: rest.join("/") };
}
