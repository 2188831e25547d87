/**
 * The rules an archive entry's name, type and link target must satisfy before anything is
 * written, and where an accepted entry belongs. Pure functions: no I/O.
 *
 * The accepted layout is exactly what writeBackupArchive produces (and what the spec
 * describes for archives made by hand with tar):
 *
 *   backup/                                directory
 *   backup/manifest.json                   file (our archives; always the last entry)
 *   backup/database/                       directory
 *   backup/database/baluhost.db            file
 *   backup/database/baluhost.db-wal|-shm   file, only in archives without a manifest
 *   backup/files/, backup/config/          directories, and anything below them:
 *                                          files, directories, relative symlinks that stay inside
 *
 * Names are checked on the final path (after PAX and GNU long-name overrides) and must be in
 * canonical form: no leading "/", no drive letter, no backslash, no NUL, no "", "." or ".."
 * segment, not longer than the limit. Everything else is refused, never "cleaned up": an
 * archive that needs cleaning is not one we made, and a cleaned name could collide with another.
 */
import { linkTargetProblem } from "../archive/link-policy";
import { quoteName, refuse } from "./extract-errors";

export type TreePart = "files" | "config";
export const DATABASE_NAMES = ["baluhost.db", "baluhost.db-wal", "baluhost.db-shm"] as const;
export type DatabaseName = (typeof DATABASE_NAMES)[number];

export type EntryKind = "file" | "dir" | "symlink";

export type Placement =
  /** backup/, backup/database/, backup/files/, backup/config/: rel "", "database", "files", "config". */
  | { kind: "root-dir"; rel: string }
  | { kind: "manifest"; rel: "manifest.json" }
  | { kind: "database"; rel: string; name: DatabaseName }
  /** Something inside files/ or config/; `inside` are the segments below the tree root. */
  | { kind: "tree"; rel: string; part: TreePart; inside: string[]; type: EntryKind };

/** npm tar's type names mapped to what we accept; anything else is refused with a reason. */
export function entryKind(tarType: string, name: string, linkpath: string | undefined): EntryKind {
  switch (tarType) {
    case "File":
    case "OldFile":
      return "file";
    case "Directory":
      return "dir";
    case "SymbolicLink":
      return "symlink";
    case "Link":
      return refuse("type", `the entry ${quoteName(name)} is a hard link (to ${quoteName(linkpath ?? "")}); backups never contain hard links`, name);
    case "CharacterDevice":
    case "BlockDevice":
      return refuse("type", `the entry ${quoteName(name)} is a device file; backups contain only files, folders and symlinks`, name);
    case "FIFO":
      return refuse("type", `the entry ${quoteName(name)} is a FIFO (named pipe); backups contain only files, folders and symlinks`, name);
    case "ContiguousFile":
      return refuse("type", `the entry ${quoteName(name)} is a contiguous file (tar type 7), which BaluHost does not write`, name);
    default:
      return refuse("type", `the entry ${quoteName(name)} has the unsupported tar type ${quoteName(tarType)}`, name);
  }
}

/**
 * Checks a full entry path ("backup/files/a.txt", directories may end in "/") and returns its
 * segments, the trailing slash of a directory removed.
 */
export function checkEntryPath(name: string, kind: EntryKind, maxPathBytes: number): string[] {
  if (name.length === 0) refuse("path", "an entry has an empty name");
  if (name.includes("\u0000")) refuse("path", `the entry ${quoteName(name)} has a NUL byte in its name`, name);
  if (Buffer.byteLength(name, "utf8") > maxPathBytes) {
    refuse("path", `the entry ${quoteName(name)} has a name longer than ${maxPathBytes} bytes`, name);
  }
  if (name.startsWith("/")) refuse("path", `the entry ${quoteName(name)} has an absolute path`, name);
  if (/^[A-Za-z]:/.test(name)) refuse("path", `the entry ${quoteName(name)} starts with a drive letter`, name);
  if (name.includes("\\")) refuse("path", `the entry ${quoteName(name)} has a backslash in its name`, name);
  const trimmed = kind === "dir" && name.endsWith("/") ? name.slice(0, -1) : name;
  const segments = trimmed.split("/");
  for (const s of segments) {
    if (s === "..") refuse("path", `the entry ${quoteName(name)} has a ".." segment, which would point outside the restore folder`, name);
    if (s === ".") refuse("path", `the entry ${quoteName(name)} has a "." segment`, name);
    if (s === "") refuse("path", `the entry ${quoteName(name)} has an empty path segment ("//" or a trailing "/")`, name);
  }
  return segments;
}

/** Where a checked entry belongs; refuses anything outside the layout above. */
export function placeEntry(name: string, segments: string[], kind: EntryKind): Placement {
  if (segments[0] !== "backup") {
    refuse("layout", `the entry ${quoteName(name)} is outside the backup/ folder`, name);
  }
  const rest = segments.slice(1);
  const rel = rest.join("/");
  const wrongType = (expected: string): never =>
    refuse("layout", `the entry ${quoteName(name)} should be ${expected} but is a ${kind === "dir" ? "folder" : kind}`, name);

  if (rest.length === 0) return kind === "dir" ? { kind: "root-dir", rel } : wrongType("a folder");
  const top = rest[0];
  if (rest.length === 1) {
    if (top === "manifest.json") return kind === "file" ? { kind: "manifest", rel: "manifest.json" } : wrongType("a file");
    if (top === "database" || top === "files" || top === "config") return kind === "dir" ? { kind: "root-dir", rel } : wrongType("a folder");
    return refuse("layout", `the entry ${quoteName(name)} is not part of a backup (expected manifest.json, database/, files/ or config/)`, name);
  }
  if (top === "database") {
    const file = rest[1];
    if (rest.length === 2 && (DATABASE_NAMES as readonly string[]).includes(file)) {
      return kind === "file" ? { kind: "database", rel, name: file as DatabaseName } : wrongType("a file");
    }
    return refuse("layout", `the entry ${quoteName(name)} does not belong in backup/database/ (only baluhost.db, and -wal/-shm in foreign archives)`, name);
  }
  if (top === "files" || top === "config") return { kind: "tree", rel, part: top, inside: rest.slice(1), type: kind };
  return refuse("layout", `the entry ${quoteName(name)} is not part of a backup (expected manifest.json, database/, files/ or config/)`, name);
}

/** Refuses a symlink whose target the shared link policy does not allow (see link-policy.ts). */
export function checkLinkTarget(name: string, inside: string[], target: string, maxPathBytes: number): void {
  const problem = linkTargetProblem(target, inside.length - 1, maxPathBytes);
  if (problem) refuse("type", `the symlink ${quoteName(name)} points to ${quoteName(target)}, ${problem}`, name);
}

/** The key two names collide on: same text after Unicode NFC normalisation and lower-casing. */
export function collisionKey(rel: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(rel) ? rel.toLowerCase() : rel.normalize("NFC").toLowerCase();
}
