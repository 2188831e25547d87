/**
 * Reads file bodies out of one archive of a backup's chain, by the offsets the browse index
 * holds: with the archive's seek index a read starts inflating at the member that holds the
 * file; without one the archive is inflated from the start and the reads must come in archive
 * order (the callers ask for files ordered by offset).
 *
 * Nothing is trusted: the header found at an offset must name the file the index expects,
 * with its size, and the body's SHA-256 is compared with the manifest's at the end. A
 * mismatch is an ArchiveError (ARCHIVE_INVALID) thrown by the body's last read, so a
 * consumer that writes the body somewhere learns of it before it uses what it wrote.
 */
import crypto from "node:crypto";
import type { AppConfig } from "../../config";
import { ArchiveError } from "../archive/errors";
import { SeekIndex } from "../archive/seek-index";
import { archivePath, seekIndexPath } from "../catalog";
import { openArchiveBytes, type ArchiveBytes } from "./archive-bytes";
import { TarCursor } from "./tar-cursor";
import type { TreeEntry, TreeSource } from "./tree-index";

export class SourceReader {
  private constructor(
    private readonly bytes: ArchiveBytes,
    private readonly seek: SeekIndex | null,
    private readonly cursor: TarCursor,
    readonly source: TreeSource,
  ) {}

  static async open(config: AppConfig, source: TreeSource): Promise<SourceReader> {
    const bytes = await openArchiveBytes(config, archivePath(config, source));
    const seek = source.seek ? await SeekIndex.open(seekIndexPath(config, source.filename)) : null;
    const usable = seek && seek.archiveSize === bytes.size ? seek : null;
    if (seek && !usable) await seek.close();
    return new SourceReader(bytes, usable, new TarCursor(bytes, usable, source.filename), source);
  }

  /** The body of `entry` (a file whose `src` is this archive), checked against the manifest. */
  async *read(entry: TreeEntry): AsyncGenerator<Buffer> {
    const name = this.source.filename;
    if (entry.off === null) throw new ArchiveError("ARCHIVE_INVALID", `${name} has no known place for ${entry.path}`, { path: name });
    await this.cursor.seek(entry.off);
    const head = await this.cursor.nextHeader();
    if (!head || head.name !== `backup/${entry.path}` || head.type !== "file" || head.size !== entry.size) {
      throw new ArchiveError("ARCHIVE_INVALID", `${name} does not hold ${entry.path} where its index says (found ${head ? head.name : "the end"})`, { path: name });
    }
    const hash = entry.sha256 ? crypto.createHash("sha256") : null;
    for await (const chunk of this.cursor.body(head.size)) {
      hash?.update(chunk);
      yield chunk;
    }
    if (hash && hash.digest("hex") !== entry.sha256) {
      throw new ArchiveError("ARCHIVE_INVALID", `${entry.path} in ${name} does not match its SHA-256 in the manifest: the archive is damaged`, { path: name });
    }
  }

  async close(): Promise<void> {
    await this.cursor.close();
    await this.seek?.close();
    await this.bytes.close();
  }
}

/** Readers for the archives of a chain, opened on first use. */
export class ChainReaders {
  private readonly open = new Map<number, SourceReader>();
  private readonly sources: Map<number, TreeSource>;

  constructor(
    private readonly config: AppConfig,
    sources: TreeSource[],
  ) {
    this.sources = new Map(sources.map((s) => [s.id, s]));
  }

  async reader(src: number): Promise<SourceReader> {
    let r = this.open.get(src);
    if (!r) {
      const source = this.sources.get(src);
      if (!source) throw new ArchiveError("ARCHIVE_INVALID", `the browse index names an unknown archive (backup ${src})`);
      r = await SourceReader.open(this.config, source);
      this.open.set(src, r);
    }
    return r;
  }

  async close(): Promise<void> {
    for (const r of this.open.values()) await r.close().catch(() => undefined);
    this.open.clear();
  }
}
