/**
 * The errors of the encryption engine. Like the archive engine it knows no transport: the
 * backup service maps these codes to AppError once (see service-level callers).
 */
export type AgeErrorCode =
  /** The file does not start with an age v1 header (it is not encrypted, or not age). */
  | "NOT_AGE"
  /** The header is malformed, uses something we do not accept, or its MAC does not match. */
  | "HEADER_INVALID"
  /** The archive is encrypted and no passphrase / identity was given for its kind. */
  | "KEY_REQUIRED"
  /** A passphrase was given and none opens the archive's scrypt stanza. */
  | "WRONG_PASSPHRASE"
  /** Identities were given and none matches any of the archive's recipients. */
  | "WRONG_IDENTITY"
  /** A payload chunk failed authentication: the archive was modified or is damaged. */
  | "PAYLOAD_DAMAGED"
  /** The payload ends early. */
  | "TRUNCATED";

export class AgeError extends Error {
  readonly code: AgeErrorCode;
  constructor(code: AgeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, { cause: options?.cause });
    this.name = "AgeError";
    this.code = code;
  }
}

export function isAgeError(err: unknown): err is AgeError {
  return err instanceof AgeError;
}

/** A payload chunk that fails authentication (index counted from 0). */
export function damagedChunk(index: number, chunks: number): AgeError {
  return new AgeError("PAYLOAD_DAMAGED", `it was modified or is damaged: encrypted chunk ${index + 1} of ${chunks} fails authentication`);
}

/** The last chunk opens only as a middle one: the file was cut at a chunk boundary. */
export function unmarkedLastChunk(): AgeError {
  return new AgeError("TRUNCATED", "it is truncated: its last encrypted chunk is not marked as the last one");
}

/** A read returned less than the file's size promised. */
export function shrankWhileRead(): AgeError {
  return new AgeError("TRUNCATED", "it is truncated: the file got shorter while it was read");
}
