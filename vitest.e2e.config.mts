/**
 * End-to-end tests: a real `next start` (built once by the global setup) on temp folders,
 * driven by Debian's Chromium through playwright-core. Run with `npm run test:e2e`;
 * E2E_SKIP_BUILD=1 reuses the last `next build`.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BaseSequencer, type TestSpecification } from "vitest/node";
import { defineConfig } from "vitest/config";

/**
 * The files share one server and its data, one after another: run them in name order, so
 * a file can rely on what the files before it left (vitest's default orders by duration).
 */
class ByNameSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...files].sort((a, b) => a.moduleId.localeCompare(b.moduleId));
  }
}

export default defineConfig({
  resolve: { alias: { "@": path.dirname(fileURLToPath(import.meta.url)) } },
  test: {
    environment: "node",
    include: ["tests/e2e/**/*.test.ts"],
    // The offsite test needs a real S3 endpoint (Ceph radosgw), as the integration tests do.
    globalSetup: ["tests/e2e/global-setup.ts", "tests/support/s3-global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    pool: "forks",
    sequence: { sequencer: ByNameSequencer },
  },
});
