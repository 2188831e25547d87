/**
 * The file list of a backup, made before anything is written: the data trees are walked once,
 * each entry is compared with the parent's manifest (incrementals) and spooled to a temporary
 * file in the backup folder, and the work is counted for the free-space check and progress.
 * The archive writer then reads the spooled list back. Nothing here is held per entry, so a
 * tree of millions of files costs the same memory as a small one.
 *
 * Incrementals: the scan and the parent's manifest list files in the same order (comparePaths),
 * so they are merged like two sorted lists. A parent whose manifest is not in that order (made
 * by hand) only makes unchanged files look changed: they are stored again, never lost.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { walkTreeBatches, type ManifestFileEntry, type TreeName } from "./archive";
import { EntryCursor } from "./archive/item-cursor";
import { LineSpool } from "./archive/line-spool";
import type { ManifestStream } from "./archive/manifest";
import type { PlannedEntry } from "./archive/types";
import { STAGING_PREFIX } from "./catalog";

export interface PlannedTree {
  name: TreeName;
  root: string;
  spool: LineSpool;
}

export interface TreePlan {
  trees: PlannedTree[];
  /** Files the archive will read (unchanged files of an incremental are not) and their bytes. */
  files: number;
  bytes: number;
  /** Deletes the spooled lists. Never throws. */
  remove(): Promise<void>;
}

export interface PlanTreesOptions {
  /** Where the spool folder goes (the backup folder: start-up sweeps a crash's leftovers there). */
  workDir: string;
  trees: Array<{ name: TreeName; root: string }>;
  /** An incremental's parent manifest; null for other backups. Closed when planning ends. */
  parent: ManifestStream | null;
  /** Top-level names never backed up (the restore work folder). */
  excludeTopLevel: string[];
  signal?: AbortSignal;
}

export async function planTrees(opts: PlanTreesOptions): Promise<TreePlan> {
  const dir = path.join(opts.workDir, `${STAGING_PREFIX}plan-${crypto.randomBytes(6).toString("hex")}`);
  const plan: TreePlan = {
    trees: [],
    files: 0,
    bytes: 0,
    remove: () => fs.promises.rm(dir, { recursive: true, force: true }).catch(() => undefined),
  };
  try {
    await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
    for (const tree of opts.trees) {
      const spool = await LineSpool.create(path.join(dir, `${tree.name}.jsonl`));
      plan.trees.push({ ...tree, spool });
      const parent = tree.name === "files" && opts.parent ? new EntryCursor(opts.parent.entries, parentUnreadable) : null;
      const walk = walkTreeBatches(tree.root, {
        signal: opts.signal,
        exclude: opts.excludeTopLevel,
      });
      for await (const batch of walk) {
        for (const entry of batch as PlannedEntry[]) {
          if (entry.type === "file") {
            const found = parent ? parent.seek(`files/${entry.path}`) : null;
            const before = found instanceof Promise ? await found : found;
            if (before?.sha256 && before.type === "file" && before.size === entry.size && before.mtime === entry.mtimeMs) {
              entry.unchangedSha256 = before.sha256;
            } else {
              plan.files++;
              plan.bytes += entry.size;
            }
          }
          const flushing = spool.append(JSON.stringify(entry));
          if (flushing) await flushing;
        }
      }
      await spool.finish();
    }
    return plan;
  } catch (err) {
    await Promise.all(plan.trees.map((t) => t.spool.remove()));
    await plan.remove();
    throw err;
  } finally {
    await opts.parent?.close();
  }
}

/**
 * A planned tree's entries, read back in the order they were walked, parsed a few hundred at a
 * time as the writer asks for them: objects that live only briefly never reach the old
 * generation of the heap, which is what keeps the peak down on trees of millions of files.
 */
export async function* plannedEntries(tree: PlannedTree): AsyncGenerator<PlannedEntry[]> {
  for await (const lines of tree.spool.lines()) {
    for (let i = 0; i < lines.length; i += PARSE_BATCH) yield lines.slice(i, i + PARSE_BATCH).map((line) => JSON.parse(line) as PlannedEntry);
  }
}

const PARSE_BATCH = 256;

/**
 * A parent manifest damaged part-way: the files after the damage are stored again (a bigger
 * incremental, never a missing file).
 */
function parentUnreadable(err: unknown): void {
  console.warn("[backup] the parent backup's manifest could not be read to the end; unchanged files after that point are stored again:", err);
}
