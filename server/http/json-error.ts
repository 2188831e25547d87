/**
 * The one JSON shape of every REST error: `{error: {code, message, ...}, detail: message}`.
 * `error` is ours; `detail` repeats the message for clients written against the real
 * BaluHost API (axios code shows `response.data.detail`), so every client shows the reason
 * instead of "Request failed with status code 400".
 */
export function jsonError(
  status: number,
  code: string,
  message: string,
  extra?: Record<string, unknown>,
  init?: { headers?: HeadersInit },
): Response {
  return Response.json({ error: { code, message, ...extra }, detail: message }, { status, headers: init?.headers });
}
