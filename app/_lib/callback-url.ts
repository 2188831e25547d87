/**
 * Where to go after signing in. Only a path on this site is accepted: "/settings" yes,
 * "//evil.example" and "/\evil.example" (both read by browsers as another host) and any
 * absolute URL no; then the answer is "/". Used by the login page on both sides.
 */
export function safeCallbackPath(raw: string | string[] | null | undefined): string {
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value || !value.startsWith("/") || value.startsWith("//") || value.includes("\\")) return "/";
  // Control characters can sneak a second "/" past the check after the browser strips them.
  if (/[\u0000-\u001f\u007f]/.test(value)) return "/";
  // Coming back to the form itself would be a dead end.
  if (value === "/login" || value.startsWith("/login?") || value.startsWith("/login/")) return "/";
  return value;
}

/** The sign-in URL that brings the visitor back to `path` afterwards. */
export function loginUrl(path: string): string {
  const target = safeCallbackPath(path);
  return target === "/" ? "/login" : `/login?callbackUrl=${encodeURIComponent(target)}`;
}
