/**
 * Why an archive was refused. The reader's internals throw ArchiveRefusal (what is wrong,
 * which entry) without knowing which file they read; extractArchive/verifyArchive turn it into
 * the ArchiveInvalidError an admin sees, naming the archive and saying what to do.
 */
import path from "node:path";
import { AppError } from "../../errors";

export type ArchiveProblem =
  /** Not gzip, damaged compressed data, truncated, bad tar headers, data after the end. */
  | "corrupt"
  /** A path that is absolute, escapes, is malformed, too long or not UTF-8. */
  | "path"
  /** An entry outside the backup layout (backup/manifest.json, database/, files/, config/). */
  | "layout"
  /** Hard links, devices, FIFOs, unknown types; symlinks pointing outside their tree. */
  | "type"
  /** The same path twice, or two paths equal after Unicode normalisation or case folding. */
  | "duplicate"
  /** Entry count, total size or compression ratio over the limit. */
  | "limit"
  /** Manifest missing pieces, invalid, or disagreeing with the archive's contents. */
  | "manifest"
  /** Made by a newer BaluHost. */
  | "version"
  /** The database in the archive is damaged or misplaced. */
  | "database";

/** Internal: thrown while reading; carries no archive name. */
export class ArchiveRefusal extends Error {
  constructor(
    readonly problem: ArchiveProblem,
    message: string,
    readonly entry?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ArchiveRefusal";
  }
}

export function refuse(problem: ArchiveProblem, message: string, entry?: string, cause?: unknown): never {
  throw new ArchiveRefusal(problem, message, entry, cause === undefined ? undefined : { cause });
}

/**
 * An archive that restore, verify or upload will not use. The message is for the admin:
 * which archive, what is wrong (naming the entry), and what that means.
 */
export class ArchiveInvalidError extends AppError {
  readonly problem: ArchiveProblem;
  /** The archive entry concerned, when there is one (e.g. "backup/files/a.txt"). */
  readonly entry?: string;

  constructor(message: string, options: { problem: ArchiveProblem; entry?: string; archive?: string; cause?: unknown }) {
    super("ARCHIVE_INVALID", message, {
      cause: options.cause,
      details: { problem: options.problem, ...(options.entry ? { entry: options.entry } : {}), ...(options.archive ? { archive: options.archive } : {}) },
    });
    this.name = "ArchiveInvalidError";
    this.problem = options.problem;
    this.entry = options.entry;
  }
}

/** What the caller was doing, for the last sentence of the message. */
export type ReadPurpose = "restore" | "verify";

export function toInvalidError(refusal: ArchiveRefusal, archivePath: string, purpose: ReadPurpose): ArchiveInvalidError {
  const name = path.basename(archivePath);
  const outcome = purpose === "restore" ? "nothing was restored" : "nothing was changed";
  const guidance =
    refusal.problem === "version"
      ? `Update BaluHost to a version that reads it; ${outcome}.`
      : refusal.problem === "limit"
        ? `If the archive is genuine, restore it with higher limits; ${outcome}.`
        : `The archive is damaged or was not made by BaluHost; ${outcome}.`;
  return new ArchiveInvalidError(`The archive ${name} cannot be used: ${refusal.message}. ${guidance}`, {
    problem: refusal.problem,
    entry: refusal.entry,
    archive: name,
    cause: refusal.cause,
  });
}

/** An entry name as it can safely appear in a message: quoted, control characters escaped, shortened. */
export function quoteName(name: string): string {
  const shown = name.length > 200 ? `${name.slice(0, 200)}…` : name;
  return JSON.stringify(shown);
}
