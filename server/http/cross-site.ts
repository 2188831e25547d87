/**
 * Refuses cross-site state changes. Browsers send form posts (and tRPC v11 accepts
 * multipart and other non-JSON bodies for mutations) to any site without a CORS
 * preflight, carrying the session cookie; so a mutation must come from our own origin,
 * and tRPC mutations must be JSON, which a cross-site page cannot send without a preflight.
 */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The origin the client used to reach us, as the browser would write it in `Origin`. */
function requestOrigin(req: Request): string | null {
  const url = new URL(req.url);
  const host = req.headers.get("x-forwarded-host") ?? req.headers.get("host") ?? url.host;
  const proto = req.headers.get("x-forwarded-proto")?.split(",")[0]?.trim() ?? url.protocol.replace(":", "");
  return host ? `${proto}://${host}` : null;
}

/** Returns why the request is refused, or null when it may proceed. */
export function crossSiteRefusal(req: Request, options: { requireJson?: boolean } = {}): string | null {
  if (SAFE_METHODS.has(req.method.toUpperCase())) return null;
  const fetchSite = req.headers.get("sec-fetch-site");
  if (fetchSite && fetchSite !== "same-origin" && fetchSite !== "none") {
    return "Cross-site requests are not allowed.";
  }
  const origin = req.headers.get("origin");
  if (origin !== null && origin !== requestOrigin(req)) {
    return "Cross-site requests are not allowed.";
  }
  if (options.requireJson) {
    const type = req.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
    if (type !== "application/json") return "Mutations must be sent as application/json.";
  }
  return null;
}
