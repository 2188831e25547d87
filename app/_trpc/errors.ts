/**
 * Reading tRPC errors in the UI. The server sends messages written for people (and a
 * generic one for unexpected errors), plus zod's field errors for invalid input, so the
 * UI shows `error.message` as is and puts field errors next to their fields.
 *
 *   <Callout tone="danger">{errorMessage(mutation.error)}</Callout>
 *   <TextField … error={fieldError(mutation.error, "name")} />
 */

export const FALLBACK_ERROR_MESSAGE = "Something went wrong. Try again.";

interface ErrorShape {
  message?: unknown;
  data?: { zodError?: { fieldErrors?: Record<string, string[] | undefined>; formErrors?: string[] } | null } | null;
}

/** The message to show for any error (a tRPC error, a network failure, anything thrown). */
export function errorMessage(error: unknown, fallback = FALLBACK_ERROR_MESSAGE): string {
  if (!error) return fallback;
  const shape = error as ErrorShape;
  // For invalid input, the first field error reads better than zod's JSON dump.
  const zod = shape.data?.zodError;
  if (zod) {
    const first = Object.values(zod.fieldErrors ?? {}).flat()[0] ?? zod.formErrors?.[0];
    if (first) return first;
  }
  if (typeof shape.message === "string" && shape.message.trim()) {
    // fetch() failures surface as TypeError "Failed to fetch": say what it means.
    if (/failed to fetch|networkerror|load failed/i.test(shape.message)) {
      return "Could not reach the server. Check the connection and try again.";
    }
    return shape.message;
  }
  return fallback;
}

/** The field errors of an invalid input: `{ name: ["Give the token a name"] }`. */
export function fieldErrors(error: unknown): Record<string, string[] | undefined> {
  return (error as ErrorShape | null)?.data?.zodError?.fieldErrors ?? {};
}

/** The first error of one field, or undefined. */
export function fieldError(error: unknown, field: string): string | undefined {
  return fieldErrors(error)[field]?.[0];
}
