/** @type {import('next').NextConfig} */
const nextConfig = {
  // Native addon and Node-only archive code must not be bundled for the server.
  serverExternalPackages: ["better-sqlite3", "tar"],
  poweredByHeader: false,
};
export default nextConfig;
