/** The HTTP Prefer header (RFC 7240): how a client asks for an asynchronous answer. */

/** Whether the request's Prefer header (a comma-separated list of preferences) asks for respond-async. */
export function prefersAsync(req: Request): boolean {
  const header = req.headers.get("prefer");
  if (!header) return false;
  return header.split(",").some((pref) => pref.split(";")[0]!.trim().toLowerCase() === "respond-async");
}
