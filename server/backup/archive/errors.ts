/**
 * The errors the archive engine throws on purpose. The engine knows no transport: the backup
 * service maps these codes to the app's AppError vocabulary once. Everything else the engine
 * lets through unchanged, so an output write that fails for lack of space still carries
 * Node's own code "ENOSPC".
 */

export type ArchiveErrorCode =
  /** A source file changed while it was being read and a consistent copy could not be made. */
  | "SOURCE_CHANGED"
  /** An archive (or its manifest) is missing, unreadable or not one of ours. */
  | "ARCHIVE_INVALID";

export class ArchiveError extends Error {
  readonly code: ArchiveErrorCode;
  /** The file concerned (source path for SOURCE_CHANGED, archive path for ARCHIVE_INVALID). */
  readonly path?: string;

  constructor(code: ArchiveErrorCode, message: string, options?: { path?: string; cause?: unknown }) {
    super(message, { cause: options?.cause });
    this.name = "ArchiveError";
    this.code = code;
    this.path = options?.path;
  }
}

export function sourceChangedError(file: string): ArchiveError {
  return new ArchiveError(
    "SOURCE_CHANGED",
    `${file} changed while it was being backed up; try again when nothing is writing to it`,
    { path: file },
  );
}

/** The rejection of an aborted operation: an Error named "AbortError" whose cause is the signal's reason. */
export function abortError(signal: AbortSignal): Error {
  const err = new Error("The backup archive was cancelled", { cause: signal.reason });
  err.name = "AbortError";
  (err as Error & { code: string }).code = "ABORT_ERR";
  return err;
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

export function errnoCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err ? String((err as { code: unknown }).code) : undefined;
}
