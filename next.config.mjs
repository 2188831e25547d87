/** @type {import('next').NextConfig} */
const nextConfig = {
  // Native addon and Node-only archive code must not be bundled for the server.
  serverExternalPackages: ["better-sqlite3", "tar"],
  poweredByHeader: false,
  // The real BaluHost API answers /api/backups/ like /api/backups. Next's 308 to the path
  // without the slash loses a POST body in clients that do not re-send it, so API paths
  // are answered directly (Next matches them with or without the slash once it does not
  // redirect). Pages keep Next's redirect, restored below for everything outside /api.
  skipTrailingSlashRedirect: true,
  async redirects() {
    return [{ source: "/:path((?!api(?:/|$)).+)/", destination: "/:path", permanent: true }];
  },
};
export default nextConfig;
