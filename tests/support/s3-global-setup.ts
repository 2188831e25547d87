/**
 * Vitest global setup: a real S3 endpoint (Ceph radosgw, tests/support/ceph-s3.sh) for the
 * offsite tests. Uses S3_TEST_ENDPOINT / S3_TEST_ACCESS_KEY / S3_TEST_SECRET_KEY when set
 * (.ci/run starts the gateway itself); otherwise starts one, but only when the run includes
 * an offsite test (a single unrelated test file must not pay 15 s and 1 GB for it), and stops
 * it afterwards. When it cannot start, the offsite tests fail under CI and skip loudly outside.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";

export interface S3TestEndpoint {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    s3: S3TestEndpoint | { unavailable: string };
  }
}

const script = path.join(path.dirname(new URL(import.meta.url).pathname), "ceph-s3.sh");

function wantsOffsite(): boolean {
  const filters = process.argv.slice(2).filter((a) => !a.startsWith("-") && a !== "run" && !a.endsWith(".mts"));
  return filters.length === 0 || filters.some((f) => /offsite|s3/i.test(f));
}

export default function setup(project: TestProject): (() => void) | undefined {
  const env = process.env;
  if (env.S3_TEST_ENDPOINT && env.S3_TEST_ACCESS_KEY && env.S3_TEST_SECRET_KEY) {
    project.provide("s3", { endpoint: env.S3_TEST_ENDPOINT, accessKeyId: env.S3_TEST_ACCESS_KEY, secretAccessKey: env.S3_TEST_SECRET_KEY });
    return undefined;
  }
  if (!wantsOffsite()) {
    project.provide("s3", { unavailable: "no offsite test in this run" });
    return undefined;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "baluhost-ceph-"));
  try {
    const out = execFileSync("bash", [script, "start", dir], { encoding: "utf8", env: { ...env, RGW_PORT: env.S3_TEST_PORT ?? "7481", MON_PORT: env.S3_TEST_MON_PORT ?? "3301" }, timeout: 240_000 });
    const vars = Object.fromEntries(out.trim().split("\n").map((l) => l.split("=", 2) as [string, string]));
    project.provide("s3", { endpoint: vars.S3_TEST_ENDPOINT!, accessKeyId: vars.S3_TEST_ACCESS_KEY!, secretAccessKey: vars.S3_TEST_SECRET_KEY! });
    return () => {
      execFileSync("bash", [script, "stop", dir], { stdio: "ignore", timeout: 60_000 });
    };
  } catch (err) {
    const reason = `the Ceph radosgw could not start (${(err as { stderr?: string }).stderr?.toString().trim().split("\n").pop() ?? (err as Error).message})`;
    console.warn(`\n\n!!! OFFSITE (S3) TESTS WILL ${env.CI ? "FAIL" : "BE SKIPPED"}: ${reason}. Install: apt-get install ceph-mon ceph-osd ceph-mgr radosgw uuid-runtime\n\n`);
    fs.rmSync(dir, { recursive: true, force: true });
    project.provide("s3", { unavailable: reason });
    return undefined;
  }
}
