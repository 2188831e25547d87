/**
 * The independent pass of a restore drill: after the extractor has staged a backup into the
 * sandbox (checking each body as it streamed past), every restored entry is read back from
 * disk and compared with the catalog's manifest of the backup (the copy in
 * `<backups>/.manifests/`, the one later incrementals build on): the same entries, types,
 * sizes, link targets, and the SHA-256 of every file. It catches what the stream check
 * cannot: bytes that reached the disk differently from how they were hashed, and an archive
 * that no longer matches what the catalog says it holds.
 *
 * Both sides are sorted the same way (compareArchivePaths: the sandbox walk yields each part in
 * comparePaths order, the manifest is written in archive order), so they are merged as two
 * streams: memory stays flat whatever the number of files.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { formatBytes, pluralize } from "@/lib/format";
import { walkTreeBatches } from "../archive";
import { ItemCursor } from "../archive/item-cursor";
import type { ManifestStream } from "../archive/manifest";
import type { ManifestFileEntry, ScannedEntry } from "../archive/types";
import { compareArchivePaths } from "../archive/scan";

export const PARTS = ["database", "files", "config"] as const;
export type Part = (typeof PARTS)[number];

/** The sandbox folder of each restored part; a part not restored has none. */
export type SandboxParts = Partial<Record<Part, string>>;

export interface ContentsResult {
  ok: boolean;
  detail: string;
  /** Regular files in the sandbox, and their bytes. */
  files: number;
  bytes: number;
  /** At most a few problems, for the message; `problems` counts them all. */
  examples: string[];
  problems: number;
}

export interface ContentsOptions {
  sandbox: SandboxParts;
  /** The backup's manifest; only entries of restored parts are compared. */
  manifest: ManifestStream;
  /** Whether a listed path was restored (the parts asked for, without the restore work folder). */
  restored: (archivePath: string) => boolean;
  /** Bytes hashed so far, for progress. */
  onHashed?: (bytes: number) => void;
}

const HASHES_IN_FLIGHT = 8;
const EXAMPLES = 3;

async function sha256OfFile(file: string): Promise<string> {
  const hash = crypto.createHash("sha256");
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

class Findings {
  problems = 0;
  examples: string[] = [];
  files = 0;
  bytes = 0;

  add(problem: string): void {
    this.problems++;
    if (this.examples.length < EXAMPLES) this.examples.push(problem);
  }
}

/** Each restored part's entries as archive paths ("files/a.txt"), in archive order. */
async function* sandboxEntries(sandbox: SandboxParts): AsyncGenerator<Array<ScannedEntry & { rel: string; abs: string }>> {
  for (const part of PARTS) {
    const root = sandbox[part];
    if (!root) continue;
    for await (const batch of walkTreeBatches(root)) {
      yield batch.map((e) => ({ ...e, rel: `${part}/${e.path}`, abs: path.join(root, e.path) }));
    }
  }
}

/** Compares the sandbox with the manifest; see the module comment. */
export async function compareWithManifest(opts: ContentsOptions): Promise<ContentsResult> {
  const found = new Findings();
  const listed = new ItemCursor<ManifestFileEntry>(
    (async function* () {
      for await (const batch of opts.manifest.entries) {
        // A part's own folder ("files") is the sandbox root, not an entry of the walk.
        yield batch.filter((e) => opts.restored(e.path) && !(PARTS as readonly string[]).includes(e.path));
      }
    })(),
  );
  const inFlight = new Set<Promise<void>>();
  const hashLater = (file: string, expected: string, rel: string, size: number) => {
    const job = sha256OfFile(file)
      .then(
        (actual) => {
          if (actual !== expected) found.add(`${rel}: its content differs from the manifest (SHA-256 ${actual.slice(0, 12)}…, listed ${expected.slice(0, 12)}…)`);
        },
        (err: NodeJS.ErrnoException) => found.add(`${rel}: it cannot be read back (${err.code ?? err.message})`),
      )
      .finally(() => {
        inFlight.delete(job);
        opts.onHashed?.(size);
      });
    inFlight.add(job);
  };
  try {
    for await (const batch of sandboxEntries(opts.sandbox)) {
      for (const e of batch) {
        let m = await listed.peek();
        while (m && compareArchivePaths(m.path, e.rel) < 0) {
          found.add(`${m.path}: listed in the manifest but not restored`);
          await listed.next();
          m = await listed.peek();
        }
        if (e.type === "file") {
          found.files++;
          found.bytes += e.size;
        }
        if (!m || m.path !== e.rel) {
          found.add(`${e.rel}: restored but not listed in the manifest`);
          continue;
        }
        await listed.next();
        if (m.type !== e.type) found.add(`${e.rel}: restored as a ${e.type}, listed as a ${m.type}`);
        else if (e.type === "symlink" && e.linkTarget !== m.link_target) found.add(`${e.rel}: the link points to ${e.linkTarget}, listed ${m.link_target}`);
        else if (e.type === "file" && e.size !== m.size) found.add(`${e.rel}: ${e.size} bytes restored, ${m.size} listed`);
        else if (e.type === "file") {
          while (inFlight.size >= HASHES_IN_FLIGHT) await Promise.race(inFlight);
          hashLater(e.abs, m.sha256 ?? "", e.rel, e.size);
        }
      }
    }
    for (let m = await listed.next(); m; m = await listed.next()) found.add(`${m.path}: listed in the manifest but not restored`);
  } finally {
    await Promise.all(inFlight);
    await listed.close().catch(() => undefined);
  }
  const summary = `${pluralize(found.files, "file")} (${formatBytes(found.bytes)})`;
  return {
    ok: found.problems === 0,
    detail:
      found.problems === 0
        ? `${summary} read back from the sandbox: every entry, size and SHA-256 matches the manifest.`
        : `${pluralize(found.problems, "difference")} between the restored files and the manifest: ${found.examples.join("; ")}${found.problems > found.examples.length ? "; …" : ""}.`,
    files: found.files,
    bytes: found.bytes,
    examples: found.examples,
    problems: found.problems,
  };
}

/**
 * For an archive without a manifest (the real BaluHost's): there is nothing to compare the
 * content with. What can be compared is the number of files in storage with the count
 * recorded when the archive was imported; the message says what could not be.
 */
export async function countWithoutManifest(sandbox: SandboxParts, recordedFiles: number | null): Promise<ContentsResult> {
  let files = 0;
  let bytes = 0;
  let storageFiles = 0;
  for await (const batch of sandboxEntries(sandbox)) {
    for (const e of batch) {
      if (e.type !== "file") continue;
      files++;
      bytes += e.size;
      if (e.rel.startsWith("files/")) storageFiles++;
    }
  }
  const counted = recordedFiles === null || !sandbox.files ? null : storageFiles === recordedFiles;
  const notCompared =
    "The archive has no manifest (made by the original BaluHost or by hand), so the files' content could not be compared with checksums " +
    "and files deleted before it was made cannot be known.";
  const detail =
    counted === null
      ? `${pluralize(files, "file")} (${formatBytes(bytes)}) restored. ${notCompared}`
      : counted
        ? `${pluralize(files, "file")} (${formatBytes(bytes)}) restored; the ${pluralize(storageFiles, "file")} in storage match the count recorded at import. ${notCompared}`
        : `${pluralize(storageFiles, "file")} in storage restored, but ${pluralize(recordedFiles!, "file")} were counted when the archive was imported. ${notCompared}`;
  const problem = counted === false ? [`${storageFiles} files restored, ${recordedFiles} recorded`] : [];
  return { ok: counted !== false, detail, files, bytes, examples: problem, problems: problem.length };
}
