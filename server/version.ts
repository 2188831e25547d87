/** The app's version, as written into every backup manifest. */
import fs from "node:fs";
import path from "node:path";

let cached: string | undefined;
export function appVersion(): string {
  if (!cached) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(process.cwd(), "package.json"), "utf8")) as { version?: string };
      cached = pkg.version ?? "0.0.0";
    } catch {
      cached = "0.0.0";
    }
  }
  return cached;
}
