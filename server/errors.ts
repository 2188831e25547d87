/**
 * The one error vocabulary of the app. Services throw AppError with a code and a message
 * written for the admin (what went wrong, what to do); each transport maps the code once,
 * here, to its own status. Anything that is not an AppError is an internal error: it is
 * logged on the server and the client only ever sees a generic message.
 */
export const APP_ERROR_CODES = {
  BAD_REQUEST: { http: 400, trpc: "BAD_REQUEST" },
  UNAUTHORIZED: { http: 401, trpc: "UNAUTHORIZED" },
  FORBIDDEN: { http: 403, trpc: "FORBIDDEN" },
  NOT_FOUND: { http: 404, trpc: "NOT_FOUND" },
  METHOD_NOT_ALLOWED: { http: 405, trpc: "METHOD_NOT_SUPPORTED" },
  BACKUP_NOT_FOUND: { http: 404, trpc: "NOT_FOUND" },
  OPERATION_IN_PROGRESS: { http: 409, trpc: "CONFLICT" },
  RESTORE_IN_PROGRESS: { http: 409, trpc: "CONFLICT" },
  CONFLICT: { http: 409, trpc: "CONFLICT" },
  PAYLOAD_TOO_LARGE: { http: 413, trpc: "PAYLOAD_TOO_LARGE" },
  UNSUPPORTED_MEDIA_TYPE: { http: 415, trpc: "UNSUPPORTED_MEDIA_TYPE" },
  RANGE_NOT_SATISFIABLE: { http: 416, trpc: "BAD_REQUEST" },
  ARCHIVE_INVALID: { http: 422, trpc: "UNPROCESSABLE_CONTENT" },
  INCOMPATIBLE_VERSION: { http: 422, trpc: "UNPROCESSABLE_CONTENT" },
  /** An encrypted archive and no passphrase / identity of the kind it needs. */
  KEY_REQUIRED: { http: 422, trpc: "UNPROCESSABLE_CONTENT" },
  /** An encrypted archive that the passphrase / identity given does not open. */
  WRONG_KEY: { http: 422, trpc: "UNPROCESSABLE_CONTENT" },
  TOO_MANY_REQUESTS: { http: 429, trpc: "TOO_MANY_REQUESTS" },
  INSUFFICIENT_SPACE: { http: 507, trpc: "PRECONDITION_FAILED" },
  /** A backup that was cancelled while it ran (by an admin, or the process stopping). */
  BACKUP_CANCELLED: { http: 409, trpc: "CONFLICT" },
  /** A backup that started but could not be finished; the message says why. */
  BACKUP_FAILED: { http: 500, trpc: "INTERNAL_SERVER_ERROR" },
  INTERNAL: { http: 500, trpc: "INTERNAL_SERVER_ERROR" },
} as const;

export type AppErrorCode = keyof typeof APP_ERROR_CODES;

export class AppError extends Error {
  readonly code: AppErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: AppErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, { cause: options?.cause });
    this.name = "AppError";
    this.code = code;
    this.details = options?.details;
  }

  get httpStatus(): number {
    return APP_ERROR_CODES[this.code].http;
  }

  get trpcCode(): (typeof APP_ERROR_CODES)[AppErrorCode]["trpc"] {
    return APP_ERROR_CODES[this.code].trpc;
  }
}

export const GENERIC_INTERNAL_MESSAGE =
  "An unexpected error occurred. Check the server log for details and try again.";

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** A short, loggable description of any thrown value. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
