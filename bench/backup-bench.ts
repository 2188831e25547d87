/**
 * Backup benchmark: our writer against GNU tar on the same synthetic NAS tree, same machine,
 * same run (pairs are measured back to back, alternating order, so a noisy machine affects
 * both). Reports medians and the ratios the targets are set on.
 *
 *   npm run bench -- [--small-files N=20000] [--media-mb N=1000] [--scale K=1] [--runs N=3]
 *                    [--dir PATH] [--level N] [--only WORD,WORD] [--json] [--help]
 *
 * The tree is built in --dir (default: a fixed folder under the OS temp dir) and reused when it
 * was built with the same parameters; a --dir holding any other tree is benchmarked as it is.
 *
 * Scenarios are a list of named functions returning a measurement; comparisons pair one of
 * ours with a baseline (or an absolute time) and state the targets: full backup vs GNU
 * `tar czf`, restore (verification and extraction) vs GNU `tar xzf` of the same archive, restore
 * from a file on a fresh app (the disaster path, one read) vs the same `tar xzf`, and an
 * incremental backup with nothing changed.
 *
 * Offsite: with an S3 endpoint in BENCH_S3_ENDPOINT, BENCH_S3_ACCESS_KEY, BENCH_S3_SECRET_KEY
 * (e.g. a local radosgw from tests/support/ceph-s3.sh; its memstore must hold the archive
 * at least three times: deleted objects are freed by Ceph's garbage collector some seconds
 * later, and a full memstore hangs writes instead of failing), the copy of the prepared archive through our copy queue against `rclone copyto` with
 * the same part size and parallel parts, in the same run. Without an endpoint (or when it does
 * not answer) the offsite scenarios are skipped, loudly.
 */
import { spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { makeNasTree } from "../tests/helpers/tree";
import { scanTree } from "../server/backup/archive/scan";
import { generateIdentity } from "../server/backup/crypto";

// ---------------------------------------------------------------------------------------------
// Options

interface BenchOptions {
  smallFiles: number;
  mediaMb: number;
  runs: number;
  dir: string;
  level?: number;
  json: boolean;
  /** Run only the scenarios whose name contains one of these words (e.g. --only restore,xzf). */
  only?: string[];
}

function help(): string {
  return `npm run bench -- [options]

  --small-files N   small text files in the tree (default 20000)
  --media-mb N      MB of incompressible media (default 1000)
  --scale K         multiplies both (default 1)
  --runs N          runs of each scenario; medians are reported (default 3)
  --dir PATH        where the tree is built and reused
  --level N         gzip level for our writer
  --only WORD,...   only the scenarios whose name contains a word, plus the baselines they are
                    compared with (--only restore also runs GNU tar xzf)
  --json            also print the results as JSON

scenarios: ${SCENARIOS.map((sc) => `"${sc.name}"`).join(", ")}
`;
}

function parseArgs(argv: string[]): BenchOptions {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(help());
    process.exit(0);
  }
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string, def: number): number => {
    const v = get(name);
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} needs a number, got ${v}`);
    return n;
  };
  const scale = num("scale", 1);
  const smallFiles = Math.round(num("small-files", 20000) * scale);
  const mediaMb = Math.round(num("media-mb", 1000) * scale);
  return {
    smallFiles,
    mediaMb,
    runs: Math.max(1, Math.round(num("runs", 3))),
    dir: get("dir") ?? path.join(os.tmpdir(), `baluhost-bench-tree-${smallFiles}-${mediaMb}`),
    level: get("level") === undefined ? undefined : num("level", 6),
    json: argv.includes("--json"),
    only: get("only")?.split(",").map((w) => w.trim()).filter(Boolean),
  };
}

// ---------------------------------------------------------------------------------------------
// Scenarios

export interface BenchContext {
  opts: BenchOptions;
  /** The tree being backed up. */
  treeDir: string;
  /** Scratch space on the same file system, emptied after each scenario run. */
  workDir: string;
  run: number;
  /** Bytes in the tree's files (for MB/s). */
  treeBytes: number;
  /** Made once before the timed runs: an app whose newest backup is a full one of the tree. */
  prepared: { appDir: string; archive: string; encrypted: { archive: string; identity: string; recipient: string } | null };
  /** The file of about 1 MB the one-file scenarios extract (archive path "files/…"). */
  oneFile: string;
}

export interface Measurement {
  wallMs: number;
  sizeBytes?: number;
  maxRssKb?: number;
  note?: string;
}

export interface Scenario {
  name: string;
  /** False (with a reason) when the tool it needs is missing; the scenario is then skipped. */
  available: () => true | string;
  run: (ctx: BenchContext) => Promise<Measurement>;
}

export interface Comparison {
  label: string;
  ours: string;
  /** What our time is divided by; none for a target in absolute seconds. */
  baseline?: string;
  targets: { timeRatio?: number; sizeRatio?: number; rssMb?: number; wallS?: number };
  /** An absolute time target is set for a tree of about this many files; on others it is only shown. */
  wallSForFiles?: number;
}

const hasCommand = (cmd: string): boolean => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;

/** Runs a shell pipeline, resolving with its wall time; rejects on another exit code than okCodes (GNU tar's 0 and 1 by default). */
function timeShell(command: string, okCodes: number[] = [0, 1]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn("bash", ["-c", command], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = performance.now() - t0;
      // GNU tar exits 1 when a file changed while it read it; the archive is still complete.
      if (okCodes.includes(code ?? -1)) resolve(ms);
      else reject(new Error(`${command} exited with ${code}: ${stderr}`));
    });
  });
}

function runNode(args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; wallMs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const tsx = path.join(__dirname, "..", "node_modules", ".bin", "tsx");
    const child = spawn(tsx, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve({ stdout, wallMs: performance.now() - t0 });
      else reject(new Error(`tsx ${args.join(" ")} exited with ${code}: ${stderr}`));
    });
  });
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

// Offsite: the same part size and parallel parts for both uploaders.
const OFFSITE_PART_MB = 16;
const OFFSITE_PARALLEL = 4;
const S3 = { endpoint: process.env.BENCH_S3_ENDPOINT, accessKey: process.env.BENCH_S3_ACCESS_KEY, secretKey: process.env.BENCH_S3_SECRET_KEY };
const BENCH_BUCKET = `bench-${process.pid}`;

function s3Available(): true | string {
  if (!S3.endpoint || !S3.accessKey || !S3.secretKey) return "no S3 endpoint: set BENCH_S3_ENDPOINT, BENCH_S3_ACCESS_KEY, BENCH_S3_SECRET_KEY (tests/support/ceph-s3.sh start DIR prints a local one)";
  if (spawnSync("curl", ["-s", "-o", "/dev/null", "--max-time", "5", S3.endpoint]).status !== 0) return `the S3 endpoint ${S3.endpoint} does not answer`;
  return true;
}

/** Runs rclone against the bench's endpoint with the keys in its environment (never on its command line). */
function rcloneEnv(): string {
  return [
    // rclone's AWS library fails on a custom CA bundle (AWS_CA_BUNDLE) with its own transport.
    `env -u AWS_CA_BUNDLE`,
    `RCLONE_S3_PROVIDER=Ceph`,
    `RCLONE_S3_ENDPOINT=${q(S3.endpoint!)}`,
    `RCLONE_S3_ACCESS_KEY_ID=${q(S3.accessKey!)}`,
    `RCLONE_S3_SECRET_ACCESS_KEY=${q(S3.secretKey!)}`,
    `RCLONE_S3_FORCE_PATH_STYLE=true`,
  ].join(" ");
}

export const SCENARIOS: Scenario[] = [
  {
    name: "GNU tar czf",
    available: () => (hasCommand("tar") && hasCommand("gzip") ? true : "GNU tar or gzip missing"),
    run: async (ctx) => {
      const out = path.join(ctx.workDir, "gnu.tar.gz");
      const wallMs = await timeShell(`tar czf ${q(out)} -C ${q(ctx.treeDir)} .`);
      return { wallMs, sizeBytes: fs.statSync(out).size };
    },
  },
  {
    name: "GNU tar | pigz",
    available: () => (hasCommand("pigz") ? true : "pigz not installed"),
    run: async (ctx) => {
      const out = path.join(ctx.workDir, "pigz.tar.gz");
      const wallMs = await timeShell(`set -o pipefail; tar cf - -C ${q(ctx.treeDir)} . | pigz > ${q(out)}`);
      return { wallMs, sizeBytes: fs.statSync(out).size };
    },
  },
  {
    name: "ours: full backup",
    available: () => true,
    run: async (ctx) => {
      // Through the backup service, as the app runs it: scan, database snapshot, archive, fsync, rename.
      const r = await runApp(["full", "--storage", ctx.treeDir, "--app", ctx.workDir]);
      if (ctx.run === 0) verifyWithGnuTar(r.archive!);
      return { wallMs: r.wallMs, sizeBytes: r.sizeBytes, maxRssKb: r.maxRssKb, note: `cpu ${(r.cpuMs / 1000).toFixed(1)} s` };
    },
  },
  {
    name: "ours: full backup, encrypted",
    available: () => true,
    run: async (ctx) => {
      // The same, encrypted (age, to an X25519 public key: no scrypt in the timing).
      const r = await runApp(["full", "--storage", ctx.treeDir, "--app", ctx.workDir, "--encrypt-to", ctx.prepared.encrypted!.recipient]);
      return { wallMs: r.wallMs, sizeBytes: r.sizeBytes, maxRssKb: r.maxRssKb, note: `cpu ${(r.cpuMs / 1000).toFixed(1)} s` };
    },
  },
  {
    name: "ours: incremental, nothing changed",
    available: () => true,
    run: async (ctx) => {
      const r = await runApp(["incremental", "--storage", ctx.treeDir, "--app", ctx.prepared.appDir]);
      if (r.type !== "incremental") throw new Error(`expected an incremental backup, got ${r.type}`);
      return { wallMs: r.wallMs, sizeBytes: r.sizeBytes, maxRssKb: r.maxRssKb };
    },
  },
  {
    name: "GNU tar xzf",
    available: () => (hasCommand("tar") ? true : "GNU tar missing"),
    run: async (ctx) => ({ wallMs: await timeShell(`tar xzf ${q(ctx.prepared.archive)} -C ${q(ctx.workDir)}`) }),
  },
  {
    name: "ours: restore from a file",
    available: () => true,
    run: async (ctx) => {
      // A fresh app restores the archive file: verify while staging, catalog copy, safety backup, swap.
      const r = await runApp(["restore-file", "--archive", ctx.prepared.archive, "--app", ctx.workDir]);
      const steps = Object.entries(r.steps ?? {})
        .map(([step, ms]) => `${step} ${(ms / 1000).toFixed(1)}`)
        .join(", ");
      return { wallMs: r.wallMs, maxRssKb: r.maxRssKb, note: `cpu ${(r.cpuMs / 1000).toFixed(1)} s; ${steps}` };
    },
  },
  {
    name: "GNU tar: extract one file",
    available: () => (hasCommand("tar") ? true : "GNU tar missing"),
    // GNU tar finds a member by reading the archive up to it and on to the end (it cannot know there is no second copy).
    run: async (ctx) => ({ wallMs: await timeShell(`tar xzf ${q(ctx.prepared.archive)} -C ${q(ctx.workDir)} ${q(`backup/${ctx.oneFile}`)}`) }),
  },
  {
    name: "ours: extract one file",
    available: () => true,
    run: async (ctx) => {
      const r = await runApp(["browse-cat", "--storage", ctx.treeDir, "--app", ctx.prepared.appDir, "--path", ctx.oneFile]);
      return { wallMs: r.wallMs, maxRssKb: r.maxRssKb, note: `${r.wallMs.toFixed(1)} ms, ${((r.bytes ?? 0) / 1e6).toFixed(2)} MB; browse index built once in ${((r.indexMs ?? 0) / 1000).toFixed(2)} s` };
    },
  },
  {
    name: "ours: list a folder of 300,000 files",
    available: () => true,
    run: async (ctx) => {
      const many = await prepareManyFiles(ctx.opts);
      const r = await runApp(["browse-ls", "--storage", many.treeDir, "--app", many.appDir, "--path", "files/d0150"]);
      return { wallMs: r.wallMs, maxRssKb: r.maxRssKb, note: `${r.wallMs.toFixed(1)} ms, ${r.entries} of ${r.total} entries; browse index built once in ${((r.indexMs ?? 0) / 1000).toFixed(2)} s` };
    },
  },
  {
    name: "rclone copyto (S3 multipart)",
    available: () => {
      const s3 = s3Available();
      if (s3 !== true) return s3;
      return hasCommand("rclone") ? true : "rclone not installed (apt-get install rclone)";
    },
    run: async (ctx) => {
      const size = fs.statSync(ctx.prepared.archive).size;
      const flags = `--s3-chunk-size ${OFFSITE_PART_MB}M --s3-upload-cutoff ${OFFSITE_PART_MB}M --s3-upload-concurrency ${OFFSITE_PARALLEL} --s3-no-check-bucket`;
      const wallMs = await timeShell(`${rcloneEnv()} rclone copyto ${flags} ${q(ctx.prepared.archive)} :s3:${BENCH_BUCKET}/rclone/${path.basename(ctx.prepared.archive)}`, [0]);
      // Untimed: a memstore is RAM, and a full one hangs writes instead of failing.
      await benchBucket("empty");
      return { wallMs, sizeBytes: size, note: `${(size / 1e6 / (wallMs / 1000)).toFixed(0)} MB/s upload` };
    },
  },
  {
    name: "ours: offsite copy",
    available: s3Available,
    run: async (ctx) => {
      // Upload through the copy queue (streamed, multipart), then the read-back that makes it count.
      const r = await runApp(["offsite", "--app", ctx.prepared.appDir, "--bucket", BENCH_BUCKET, "--part-mb", String(OFFSITE_PART_MB), "--parallel", String(OFFSITE_PARALLEL)], {
        BENCH_S3_ENDPOINT: S3.endpoint!,
        BENCH_S3_ACCESS_KEY: S3.accessKey!,
        BENCH_S3_SECRET_KEY: S3.secretKey!,
      });
      await benchBucket("empty");
      const readBack = r.readBackMs ?? 0;
      const uploadMs = r.wallMs - readBack;
      return {
        wallMs: r.wallMs,
        sizeBytes: r.sizeBytes,
        maxRssKb: r.maxRssKb,
        note: `upload ≈ ${(uploadMs / 1000).toFixed(1)} s (${(r.sizeBytes! / 1e6 / (uploadMs / 1000)).toFixed(0)} MB/s) + read-back ${(readBack / 1000).toFixed(1)} s`,
      };
    },
  },
  {
    name: "ours: restore",
    available: () => true,
    run: async (ctx) => {
      // Verification and extraction of the same archive (the restore's staging step).
      const r = await runApp(["restore", "--archive", ctx.prepared.archive, "--into", ctx.workDir]);
      return { wallMs: r.wallMs, maxRssKb: r.maxRssKb, note: `cpu ${(r.cpuMs / 1000).toFixed(1)} s` };
    },
  },
  {
    name: "ours: restore, encrypted",
    available: () => true,
    run: async (ctx) => {
      // The staging step of an encrypted full backup of the same tree, decrypted as it is read.
      const { archive, identity } = ctx.prepared.encrypted!;
      const r = await runApp(["restore", "--archive", archive, "--into", ctx.workDir, "--identity", identity]);
      return { wallMs: r.wallMs, maxRssKb: r.maxRssKb, note: `cpu ${(r.cpuMs / 1000).toFixed(1)} s` };
    },
  },
];

interface AppRun {
  wallMs: number;
  bytes?: number;
  entries?: number;
  total?: number;
  indexMs?: number;
  sizeBytes?: number;
  archive?: string;
  type?: string;
  cpuMs: number;
  maxRssKb: number;
  /** restore-file: seconds per restore step. */
  steps?: Record<string, number>;
  /** offsite: the read-back's share of wallMs. */
  readBackMs?: number;
}

async function runApp(args: string[], env: Record<string, string> = {}): Promise<AppRun> {
  const { stdout } = await runNode([path.join(__dirname, "run-app.ts"), ...args], env);
  return JSON.parse(stdout.trim().split("\n").pop()!) as AppRun;
}

export const COMPARISONS: Comparison[] = [
  {
    label: "full backup vs GNU tar czf",
    ours: "ours: full backup",
    baseline: "GNU tar czf",
    targets: { timeRatio: 0.25, sizeRatio: 1.02, rssMb: 256 },
  },
  {
    label: "restore (verify + extract) vs GNU tar xzf of the same archive",
    ours: "ours: restore",
    baseline: "GNU tar xzf",
    targets: { timeRatio: 1.0, rssMb: 256 },
  },
  {
    label: "restore from a file on a fresh app (one read: verify, stage, catalog copy, swap) vs GNU tar xzf",
    ours: "ours: restore from a file",
    baseline: "GNU tar xzf",
    targets: { timeRatio: 1.0, rssMb: 256 },
  },
  {
    label: "extract one file of about 1 MB from the archive vs GNU tar xzf of that one member (a full scan)",
    ours: "ours: extract one file",
    baseline: "GNU tar: extract one file",
    targets: { wallS: 0.2, rssMb: 256 },
  },
  {
    label: "list one folder (first page of 200) of a 300,000-file backup (no target set; shown)",
    ours: "ours: list a folder of 300,000 files",
    targets: { rssMb: 256 },
  },
  {
    label: "offsite copy (upload + read-back) vs rclone copyto, same part size and parallel parts",
    ours: "ours: offsite copy",
    baseline: "rclone copyto (S3 multipart)",
    // Ours also reads the whole object back before the copy counts; rclone trusts the part ETags.
    // Memory: the process plus 4 parts of 16 MiB in flight (measured 239-257 MB for 85 MB and
    // 2.3 GB archives alike); what the target guards is that it does not grow with the archive.
    targets: { timeRatio: 2.2, rssMb: 320 },
  },
  {
    label: "encrypted full backup vs our unencrypted full backup (same run)",
    ours: "ours: full backup, encrypted",
    baseline: "ours: full backup",
    targets: { timeRatio: 1.15, rssMb: 256 },
  },
  {
    label: "encrypted restore (decrypt + verify + extract) vs our unencrypted restore (same run)",
    ours: "ours: restore, encrypted",
    baseline: "ours: restore",
    targets: { timeRatio: 1.15, rssMb: 256 },
  },
  {
    label: "incremental backup, nothing changed",
    ours: "ours: incremental, nothing changed",
    targets: { wallS: 1.5, rssMb: 256 },
    wallSForFiles: 20_000,
  },
];

/**
 * Not timed: the same start for every run. Dirty pages are flushed (or the previous
 * scenario's write-back lands in this one's time), then the page cache is emptied and only the
 * inputs (the tree, the archives) are read back into it. Measured on this virtual machine: GNU
 * `tar xzf` of the bench archive took 6.0-6.5 s on a freshly emptied cache and 11-24 s (system
 * time 9-21 s) right after another run had filled the cache and deleted its 1.25 GB output, and
 * our restore swung the same way; which side ran second decided the ratio. Emptying the cache
 * needs root (/proc/sys/vm/drop_caches); without it the bench says so and the runs are noisier.
 */
function settleMachine(inputs: string[]): void {
  spawnSync("sync");
  try {
    fs.writeFileSync("/proc/sys/vm/drop_caches", "3");
  } catch {
    if (!dropCachesWarned) log("note: cannot empty the page cache (needs root); runs influence each other more");
    dropCachesWarned = true;
  }
  for (const input of inputs) {
    if (!fs.existsSync(input)) continue;
    const read = fs.statSync(input).isDirectory() ? `tar cf - -C ${q(input)} . | cat > /dev/null` : `cat ${q(input)} > /dev/null`;
    spawnSync("sh", ["-c", read]);
  }
}
let dropCachesWarned = false;

/** Not timed: the first archive of each run set must be one GNU tar reads to the end. */
function verifyWithGnuTar(archive: string): void {
  const r = spawnSync("sh", ["-c", `gzip -t ${q(archive)} && tar -tzf ${q(archive)} | tail -n 1`], { encoding: "utf8" });
  if (r.status !== 0 || r.stdout.trim() !== "backup/manifest.json") {
    throw new Error(`our archive failed verification: ${r.stderr || r.stdout}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Tree

interface TreeMarker {
  smallFiles: number;
  mediaMb: number;
  seed: number;
}

async function prepareTree(opts: BenchOptions): Promise<void> {
  const markerFile = path.join(opts.dir, ".bench-tree.json");
  const wanted: TreeMarker = { smallFiles: opts.smallFiles, mediaMb: opts.mediaMb, seed: 1 };
  if (fs.existsSync(markerFile)) {
    const have = JSON.parse(fs.readFileSync(markerFile, "utf8")) as TreeMarker;
    if (have.smallFiles === wanted.smallFiles && have.mediaMb === wanted.mediaMb && have.seed === wanted.seed) {
      log(`reusing tree in ${opts.dir}`);
      return;
    }
    throw new Error(`${opts.dir} holds a bench tree built with other parameters (${JSON.stringify(have)}); remove it or pick --dir`);
  }
  if (fs.existsSync(opts.dir) && fs.readdirSync(opts.dir).length > 0) {
    log(`benchmarking the existing tree in ${opts.dir} as it is`);
    return;
  }
  log(`building tree in ${opts.dir}: ${opts.smallFiles} small files, ${opts.mediaMb} MB media ...`);
  const t0 = performance.now();
  const s = await makeNasTree(opts.dir, { smallFiles: opts.smallFiles, mediaBytes: opts.mediaMb * 1024 * 1024, seed: 1 });
  fs.writeFileSync(markerFile, JSON.stringify(wanted));
  log(`built in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${s.files} files, ${mb(s.smallBytes)} MB text, ${mb(s.mediaBytes)} MB media`);
}

/**
 * The one-file scenarios extract a file of about 1 MB. The generated tree has none (small files
 * stay under 256 KiB, photos are 2-6 MiB), so a bench-built tree gets one, late in the archive
 * (the worst place for a scan): `zz-bench/one-megabyte.bin`, 1 MiB of incompressible bytes.
 * On a tree of your own the file closest to 1 MB is used.
 */
function ensureOneMegabyteFile(dir: string): void {
  if (!fs.existsSync(path.join(dir, ".bench-tree.json"))) return;
  const file = path.join(dir, "zz-bench", "one-megabyte.bin");
  if (fs.existsSync(file)) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const key = Buffer.alloc(32, 7);
  const cipher = crypto.createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  fs.writeFileSync(file, cipher.update(Buffer.alloc(1024 * 1024)));
}

function closestToOneMegabyte(entries: Array<{ path: string; type: string; size: number }>): string {
  let best: { path: string; size: number } | null = null;
  for (const e of entries) {
    if (e.type !== "file") continue;
    if (!best || Math.abs(e.size - 1024 * 1024) <= Math.abs(best.size - 1024 * 1024)) best = e;
  }
  if (!best) throw new Error("the tree has no file to extract");
  return `files/${best.path}`;
}

let many: Promise<{ treeDir: string; appDir: string }> | null = null;

/**
 * Untimed, once per bench run: a tree of 300,000 small files (300 folders d0000-d0299 of 1,000)
 * kept between runs beside the main tree, and an app with a full backup of it.
 */
function prepareManyFiles(opts: BenchOptions): Promise<{ treeDir: string; appDir: string }> {
  many ??= (async () => {
    const treeDir = path.join(path.dirname(opts.dir), "baluhost-bench-300k");
    const marker = path.join(treeDir, ".bench-300k");
    if (!fs.existsSync(marker)) {
      log("building a tree of 300,000 small files (once) ...");
      fs.rmSync(treeDir, { recursive: true, force: true });
      for (let d = 0; d < 300; d++) {
        const dir = path.join(treeDir, `d${String(d).padStart(4, "0")}`);
        fs.mkdirSync(dir, { recursive: true });
        for (let f = 0; f < 1000; f++) fs.writeFileSync(path.join(dir, `file-${String(f).padStart(4, "0")}.txt`), `${d}/${f}\n`);
      }
      fs.writeFileSync(marker, "");
    }
    const appDir = fs.mkdtempSync(path.join(path.dirname(opts.dir), "baluhost-bench-app300k-"));
    log("preparing: a full backup of the 300,000-file tree ...");
    await runApp(["full", "--storage", treeDir, "--app", appDir]);
    return { treeDir, appDir };
  })();
  return many;
}

// ---------------------------------------------------------------------------------------------
// Main

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

/** The offsite scenarios' bucket: made before the runs, emptied and removed after (a memstore is RAM). */
async function benchBucket(action: "create" | "empty" | "remove"): Promise<void> {
  // As in server/backup/targets/s3.ts: the SDK's Node 22 notice is noise in the bench's output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const { S3Client, CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command } = await import("@aws-sdk/client-s3");
  const client = new S3Client({
    region: "us-east-1",
    endpoint: S3.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: S3.accessKey!, secretAccessKey: S3.secretKey! },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  try {
    if (action === "create") {
      await client.send(new CreateBucketCommand({ Bucket: BENCH_BUCKET }));
      return;
    }
    for (;;) {
      const page = await client.send(new ListObjectsV2Command({ Bucket: BENCH_BUCKET }));
      const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (keys.length === 0) break;
      await client.send(new DeleteObjectsCommand({ Bucket: BENCH_BUCKET, Delete: { Objects: keys } }));
    }
    if (action === "remove") await client.send(new DeleteBucketCommand({ Bucket: BENCH_BUCKET }));
  } finally {
    client.destroy();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  await prepareTree(opts);
  ensureOneMegabyteFile(opts.dir);
  const entries = await scanTree(opts.dir);
  const oneFile = closestToOneMegabyte(entries);
  const treeBytes = entries.reduce((n, e) => n + (e.type === "file" ? e.size : 0), 0);
  log(`tree: ${entries.length} entries, ${mb(treeBytes)} MB in files; ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}`);

  // Warm the page cache so that no scenario pays for the first read from disk.
  await timeShell(`tar cf - -C ${q(opts.dir)} . | cat > /dev/null`);

  const picked = (name: string) => !opts.only || opts.only.some((word) => name.includes(word));
  // A picked scenario brings the baseline it is compared with.
  const baselines = new Set(COMPARISONS.filter((c) => c.baseline && picked(c.ours)).map((c) => c.baseline!));
  const scenarios = SCENARIOS.filter((s) => {
    if (!picked(s.name) && !baselines.has(s.name)) return false;
    const ok = s.available();
    if (ok !== true) log(s.name.includes("offsite") || s.name.includes("S3") ? `\n!!! OFFSITE BENCH SKIPPED: "${s.name}": ${ok}\n` : `skipping "${s.name}": ${ok}`);
    return ok === true;
  });
  if (scenarios.some((s) => s.name === "ours: offsite copy")) await benchBucket("create");
  const results = new Map<string, Measurement[]>(scenarios.map((s) => [s.name, []]));

  // Untimed: an app with a full backup of the tree, the base of the incremental runs and the
  // archive both restore scenarios extract.
  const appDir = fs.mkdtempSync(path.join(path.dirname(opts.dir), "baluhost-bench-app-"));
  log("preparing: a full backup of the tree for the incremental and restore scenarios ...");
  const base = await runApp(["full", "--storage", opts.dir, "--app", appDir]);
  let encrypted: BenchContext["prepared"]["encrypted"] = null;
  if (scenarios.some((s) => s.name.includes("encrypted"))) {
    log("preparing: an encrypted full backup of the tree for the encrypted restore ...");
    const { identity, recipient } = generateIdentity();
    const encAppDir = fs.mkdtempSync(path.join(path.dirname(opts.dir), "baluhost-bench-app-enc-"));
    const enc = await runApp(["full", "--storage", opts.dir, "--app", encAppDir, "--encrypt-to", recipient]);
    encrypted = { archive: enc.archive!, identity, recipient };
  }
  const prepared = { appDir, archive: base.archive!, encrypted };

  for (let run = 0; run < opts.runs; run++) {
    // Alternate the order so that neither side always runs on a machine the other just warmed.
    const order = run % 2 ? [...scenarios].reverse() : scenarios;
    for (const s of order) {
      const workDir = fs.mkdtempSync(path.join(path.dirname(opts.dir), "baluhost-bench-out-"));
      settleMachine([opts.dir, prepared.archive, ...(prepared.encrypted ? [prepared.encrypted.archive] : [])]);
      try {
        const m = await s.run({ opts, treeDir: opts.dir, workDir, run, treeBytes, prepared, oneFile });
        results.get(s.name)!.push(m);
        log(
          `run ${run + 1}/${opts.runs}  ${s.name.padEnd(22)} ${(m.wallMs / 1000).toFixed(2).padStart(7)} s` +
            (m.sizeBytes !== undefined ? `  ${mb(m.sizeBytes).padStart(8)} MB` : "") +
            (m.maxRssKb !== undefined ? `  rss ${(m.maxRssKb / 1024).toFixed(0)} MB` : "") +
            (m.note ? `  (${m.note})` : "") +
            `  load ${os.loadavg()[0].toFixed(1)}`,
        );
      } finally {
        fs.rmSync(workDir, { recursive: true, force: true });
      }
    }
  }

  // Table of medians.
  const rows = scenarios.map((s) => {
    const ms = results.get(s.name)!;
    const wall = median(ms.map((m) => m.wallMs));
    const size = ms[0].sizeBytes !== undefined ? median(ms.map((m) => m.sizeBytes!)) : undefined;
    const rss = ms[0].maxRssKb !== undefined ? Math.max(...ms.map((m) => m.maxRssKb!)) / 1024 : undefined;
    return { name: s.name, wallS: wall / 1000, mbPerS: treeBytes / 1e6 / (wall / 1000), sizeMb: size === undefined ? undefined : size / 1e6, rssMb: rss };
  });
  const lines: string[] = [];
  lines.push("");
  lines.push(`tree: ${opts.dir} (${mb(treeBytes)} MB), ${opts.runs} run(s), medians`);
  lines.push(`${"scenario".padEnd(36)} ${"time s".padStart(8)} ${"MB/s".padStart(8)} ${"size MB".padStart(10)} ${"peak RSS MB".padStart(12)}`);
  for (const r of rows) {
    lines.push(
      `${r.name.padEnd(36)} ${r.wallS.toFixed(2).padStart(8)} ${r.mbPerS.toFixed(0).padStart(8)} ${(r.sizeMb?.toFixed(1) ?? "-").padStart(10)} ${(r.rssMb?.toFixed(0) ?? "-").padStart(12)}`,
    );
  }

  const verdicts: Array<Record<string, unknown>> = [];
  for (const c of COMPARISONS) {
    const ours = results.get(c.ours);
    const base = c.baseline ? results.get(c.baseline) : ours;
    if (!ours || !base) {
      lines.push(`${c.label}: skipped (a scenario is unavailable)`);
      continue;
    }
    // Ratios per run (each pair measured back to back), then the median.
    const n = Math.min(ours.length, base.length);
    const timeRatio = median(Array.from({ length: n }, (_, i) => ours[i].wallMs / base[i].wallMs));
    const wallS = median(ours.map((m) => m.wallMs)) / 1000;
    const sizeRatio =
      c.baseline && ours[0].sizeBytes !== undefined && base[0].sizeBytes !== undefined
        ? median(Array.from({ length: n }, (_, i) => ours[i].sizeBytes! / base[i].sizeBytes!))
        : undefined;
    const rssMb = ours[0].maxRssKb !== undefined ? Math.max(...ours.map((m) => m.maxRssKb!)) / 1024 : undefined;
    const mark = (ok: boolean) => (ok ? "PASS" : "FAIL");
    lines.push("");
    lines.push(`${c.label}:`);
    if (c.targets.wallS !== undefined) {
      const treeFiles = entries.filter((e) => e.type === "file").length;
      const applies = c.wallSForFiles === undefined || Math.abs(treeFiles - c.wallSForFiles) <= c.wallSForFiles * 0.1;
      lines.push(
        applies
          ? `  wall time  ${wallS.toFixed(2)} s  (target <= ${c.targets.wallS} s)  ${mark(wallS <= c.targets.wallS)}`
          : `  wall time  ${wallS.toFixed(2)} s  (the ${c.targets.wallS} s target is for about ${c.wallSForFiles} files; this tree has ${treeFiles})`,
      );
    }
    if (c.targets.timeRatio !== undefined) {
      lines.push(`  time ratio ${timeRatio.toFixed(3)}  (target <= ${c.targets.timeRatio})  ${mark(timeRatio <= c.targets.timeRatio)}`);
    }
    if (c.targets.sizeRatio !== undefined && sizeRatio !== undefined) {
      lines.push(`  size ratio ${sizeRatio.toFixed(4)}  (target <= ${c.targets.sizeRatio})  ${mark(sizeRatio <= c.targets.sizeRatio)}`);
    }
    if (c.targets.rssMb !== undefined && rssMb !== undefined) {
      lines.push(`  peak RSS   ${rssMb.toFixed(0)} MB  (target <= ${c.targets.rssMb} MB)  ${mark(rssMb <= c.targets.rssMb)}`);
    }
    verdicts.push({ label: c.label, timeRatio: c.baseline ? timeRatio : undefined, wallS, sizeRatio, rssMb, targets: c.targets });
  }
  fs.rmSync(appDir, { recursive: true, force: true });
  if (many) fs.rmSync((await many).appDir, { recursive: true, force: true });
  if (scenarios.some((s) => s.name === "ours: offsite copy")) await benchBucket("remove");
  if (encrypted) fs.rmSync(path.dirname(path.dirname(encrypted.archive)), { recursive: true, force: true });
  console.log(lines.join("\n"));
  if (opts.json) console.log(JSON.stringify({ options: opts, treeBytes, rows, verdicts }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
