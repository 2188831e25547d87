/**
 * The layout's one dependency rule: the UI (app/) may use the server's shared pieces, but
 * nothing on the server side (server/, db/, lib/) imports from the UI folder, so the engine
 * and the CLI never pull React components or client code in.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.(ts|tsx|mts)$/.test(entry.name) ? [full] : [];
  });
}

describe("the source layout", () => {
  it("has no import of the UI folder in server/, db/ or lib/", () => {
    const offenders = ["server", "db", "lib"]
      .flatMap((dir) => sourceFiles(path.join(ROOT, dir)))
      .filter((file) => /from\s+["'](@\/app\/|(\.\.\/)+app\/)/.test(fs.readFileSync(file, "utf8")))
      .map((file) => path.relative(ROOT, file));
    expect(offenders).toEqual([]);
  });
});
