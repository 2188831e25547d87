/**
 * Restoring an incremental: the files its target lists as unchanged must come from the older
 * archives of its chain. They are kept as a spooled list in archive order (the order every
 * BaluHost archive and manifest is written in), merged with each older archive as it streams
 * past: a listed file that the archive holds is taken (and its hash checked), the rest is
 * carried to the next archive's list. Memory does not grow with the number of files.
 */
import path from "node:path";
import { ItemCursor } from "../archive/item-cursor";
import { LineSpool, linesOfFile } from "../archive/line-spool";
import { readManifestStream } from "../archive/manifest";
import { compareArchivePaths } from "../archive/scan";
import type { WrittenFile } from "./extract";

type Needed = { path: string; sha256: string };

export class NeededFiles {
  private generation = 0;

  private constructor(
    private list: LineSpool,
    private readonly dir: string,
  ) {}

  /** The unchanged files a manifest lists (its text saved at `manifestCopy`) that `want` accepts. */
  static async fromManifest(manifestCopy: string, want: (path: string) => boolean, dir: string): Promise<NeededFiles> {
    const list = await LineSpool.create(path.join(dir, "needed-0.jsonl"));
    try {
      const stream = await readManifestStream(linesOfFile(manifestCopy), "The target backup");
      try {
        for await (const batch of stream.entries) {
          for (const e of batch) {
            if (e.type === "file" && !e.in_archive && e.sha256 && want(e.path)) await list.append(JSON.stringify({ path: e.path, sha256: e.sha256 }));
          }
        }
      } finally {
        await stream.close();
      }
      await list.finish();
    } catch (err) {
      await list.remove();
      throw err;
    }
    return new NeededFiles(list, dir);
  }

  get count(): number {
    return this.list.count;
  }

  /** The first file still needed (for messages). */
  async first(): Promise<string | null> {
    for await (const lines of this.list.lines()) if (lines.length > 0) return (JSON.parse(lines[0]) as Needed).path;
    return null;
  }

  /** One archive's pass: its wanted() and onWritten() for the extractor, then finish(). */
  async pass(): Promise<NeededPass> {
    const next = await LineSpool.create(path.join(this.dir, `needed-${++this.generation}.jsonl`));
    return new NeededPass(this.list, next, async () => {
      await this.list.remove();
      await next.finish();
      this.list = next;
    });
  }

  remove(): Promise<void> {
    return this.list.remove();
  }
}

export class NeededPass {
  private readonly cursor: ItemCursor<Needed>;
  /** The listed file the archive is writing now (wanted() said yes), until onWritten(). */
  private taking: Needed | null = null;
  /** A file the archive holds with other content than the target lists. */
  inconsistent: string | null = null;

  constructor(
    current: LineSpool,
    private readonly carried: LineSpool,
    private readonly done: () => Promise<void>,
  ) {
    this.cursor = new ItemCursor(
      (async function* () {
        for await (const lines of current.lines()) yield lines.map((l) => JSON.parse(l) as Needed);
      })(),
    );
  }

  /** Whether the archive's entry is a file still needed; listed files it has passed are carried. */
  readonly wanted = async (entryPath: string): Promise<boolean> => {
    await this.carryUnwritten();
    for (let n = await this.cursor.peek(); n; n = await this.cursor.peek()) {
      const order = compareArchivePaths(n.path, entryPath);
      if (order > 0) return false;
      await this.cursor.next();
      if (order === 0) {
        this.taking = n;
        return true;
      }
      await this.carried.append(JSON.stringify(n));
    }
    return false;
  };

  readonly onWritten = (w: WrittenFile): void => {
    if (this.taking?.path !== w.path) return;
    if (this.taking.sha256 !== w.sha256) this.inconsistent ??= w.path;
    this.taking = null;
  };

  /** A listed path the archive holds as something other than a file (never written as one) is still needed. */
  private async carryUnwritten(): Promise<void> {
    if (!this.taking) return;
    await this.carried.append(JSON.stringify(this.taking));
    this.taking = null;
  }

  /** After a failure: closes both lists' files (the caller removes the folder). */
  async abort(): Promise<void> {
    await this.cursor.close().catch(() => undefined);
    await this.carried.remove();
  }

  /** Carries what the archive did not hold to the next one's list. */
  async finish(): Promise<void> {
    await this.carryUnwritten();
    for (let n = await this.cursor.next(); n; n = await this.cursor.next()) await this.carried.append(JSON.stringify(n));
    await this.done();
  }
}
