/**
 * A synthetic NAS tree for tests and the benchmark: thousands of small text files (documents,
 * notes, JSON, CSV, logs) in nested year/month/project folders, plus a few large
 * incompressible media files (photos, videos). Deterministic for a given seed: names, sizes
 * and text come from a seeded PRNG and media bytes from AES-256-CTR keyed by the seed, so the
 * same options give the same tree, byte for byte. Media is streamed to disk in 1 MiB chunks.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export interface NasTreeOptions {
  smallFiles: number;
  /** Total bytes of media (incompressible) across the large files. */
  mediaBytes: number;
  seed?: number;
}

export interface NasTreeSummary {
  files: number;
  dirs: number;
  bytes: number;
  smallBytes: number;
  mediaBytes: number;
}

const WORD_COUNT = 4000;
const CHUNK = 1 << 20;

export async function makeNasTree(root: string, opts: NasTreeOptions): Promise<NasTreeSummary> {
  const rand = mulberry32(opts.seed ?? 1);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const words = makeWords(rand);
  const dirs = new Set<string>();
  const mkdir = (d: string) => {
    if (!dirs.has(d)) {
      fs.mkdirSync(path.join(root, d), { recursive: true });
      dirs.add(d);
    }
  };
  fs.mkdirSync(root, { recursive: true });

  const summary: NasTreeSummary = { files: 0, dirs: 0, bytes: 0, smallBytes: 0, mediaBytes: 0 };
  const users = ["alice", "bob", "carol", "dave", "shared"];
  const kinds = ["docs", "notes", "projects", "mail", "logs", "code"] as const;

  for (let i = 0; i < opts.smallFiles; i++) {
    const user = pick(users);
    const kind = pick(kinds);
    const year = 2018 + Math.floor(rand() * 7);
    const month = String(1 + Math.floor(rand() * 12)).padStart(2, "0");
    const project = `${pick(words)}-${pick(words)}`;
    const dir =
      kind === "projects" || kind === "code"
        ? `${user}/${kind}/${project}/${pick(["src", "docs", "data", "notes"])}`
        : `${user}/${kind}/${year}/${month}`;
    mkdir(dir);
    // Mostly a few KiB, some tens of KiB, rarely up to ~200 KiB (log-normal-ish).
    const size = Math.min(256 * 1024, Math.floor(Math.exp(5.4 + rand() * 4.5 + rand() * 1.5)));
    const ext = kind === "logs" ? "log" : kind === "code" ? pick(["ts", "py", "json"]) : pick(["txt", "md", "csv", "json"]);
    const name = `${pick(words)}_${i.toString(36)}.${ext}`;
    const content = makeText(rand, words, ext, size);
    fs.writeFileSync(path.join(root, dir, name), content);
    summary.files++;
    summary.smallBytes += content.length;
  }

  // Media: photos of 2-6 MiB, the rest as a few videos of up to 256 MiB.
  const key = crypto.createHash("sha256").update(`media-${opts.seed ?? 1}`).digest();
  let left = opts.mediaBytes;
  let n = 0;
  const zero = Buffer.alloc(CHUNK);
  while (left > 0) {
    const isPhoto = n % 4 !== 3 || left < 8 * CHUNK;
    const size = Math.min(left, isPhoto ? Math.floor((2 + rand() * 4) * CHUNK) : Math.floor((64 + rand() * 192) * CHUNK));
    const dir = isPhoto ? `${pick(users)}/photos/${2018 + Math.floor(rand() * 7)}` : `${pick(users)}/videos`;
    mkdir(dir);
    const file = path.join(root, dir, isPhoto ? `IMG_${String(n).padStart(5, "0")}.jpg` : `VID_${String(n).padStart(5, "0")}.mp4`);
    const iv = Buffer.alloc(16);
    iv.writeUInt32BE(n, 0);
    const cipher = crypto.createCipheriv("aes-256-ctr", key, iv);
    const fd = fs.openSync(file, "w");
    try {
      for (let done = 0; done < size; done += CHUNK) {
        fs.writeSync(fd, cipher.update(zero.subarray(0, Math.min(CHUNK, size - done))));
      }
    } finally {
      fs.closeSync(fd);
    }
    summary.files++;
    summary.mediaBytes += size;
    left -= size;
    n++;
    await new Promise((r) => setImmediate(r)); // let a caller's timers run during long builds
  }

  // A few things every real tree has.
  mkdir("shared/empty-folder");
  fs.writeFileSync(path.join(root, "shared", "empty.txt"), "");
  const link = path.join(root, "shared", "latest-notes");
  if (!fs.existsSync(link)) fs.symlinkSync("../alice/notes", link);
  summary.files++;

  summary.dirs = dirs.size;
  summary.bytes = summary.smallBytes + summary.mediaBytes;
  return summary;
}

function makeWords(rand: () => number): string[] {
  const syll = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "an", "el", "or", "us", "ber", "din", "gar", "hen", "ist", "lin", "mar", "pel", "ter", "zu"];
  const words: string[] = [];
  for (let i = 0; i < WORD_COUNT; i++) {
    let w = "";
    const parts = 1 + Math.floor(rand() * 3.5);
    for (let j = 0; j < parts; j++) w += syll[Math.floor(rand() * syll.length)];
    words.push(w);
  }
  return words;
}

/** Text shaped like its extension: prose, CSV rows, JSON records or log lines with numbers. */
function makeText(rand: () => number, words: string[], ext: string, size: number): Buffer {
  // Zipf-like word choice so some words are frequent, as in real text.
  const word = () => words[Math.floor(Math.pow(rand(), 2.2) * words.length)];
  const num = (max: number) => Math.floor(rand() * max);
  const lines: string[] = [];
  let len = 0;
  while (len < size) {
    let line: string;
    switch (ext) {
      case "csv":
        line = `${num(100000)},${word()},${word()},${(rand() * 1000).toFixed(2)},${2018 + num(7)}-${1 + num(12)}-${1 + num(28)}`;
        break;
      case "json":
        line = `  {"id": ${num(1e6)}, "name": "${word()} ${word()}", "tags": ["${word()}", "${word()}"], "value": ${(rand() * 100).toFixed(3)}},`;
        break;
      case "log":
        line = `2024-${String(1 + num(12)).padStart(2, "0")}-${String(1 + num(28)).padStart(2, "0")}T${num(24)}:${num(60)}:${num(60)}.${num(1000)}Z ${["INFO", "WARN", "DEBUG", "ERROR"][num(4)]} [${word()}] ${word()} ${word()} took ${num(5000)}ms id=${num(1e9).toString(16)}`;
        break;
      default: {
        const n = 6 + num(14);
        const ws: string[] = [];
        for (let i = 0; i < n; i++) ws.push(word());
        line = ws.join(" ") + ".";
      }
    }
    lines.push(line);
    len += line.length + 1;
  }
  return Buffer.from(lines.join("\n").slice(0, size), "utf8");
}

/** A small fast seeded PRNG (public domain), uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Manifest metadata for tests that call writeBackupArchive directly: a files_only backup unless overridden. */
export function archiveMeta(
  overrides: Partial<import("@/server/backup/archive").WriteArchiveOptions["meta"]> = {},
): import("@/server/backup/archive").WriteArchiveOptions["meta"] {
  return {
    format: "baluhost-backup",
    format_version: 1,
    app_version: "0.1.0",
    migration_level: 3,
    backup_type: "files_only",
    parent: null,
    created_at: "2025-01-01T12:00:00.000Z",
    includes: { database: false, files: true, config: false },
    ...overrides,
  };
}
