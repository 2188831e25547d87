import { compareArchivePaths } from "./scan";

/**
 * The items of a stream that arrives in batches (spooled lines, manifest entries), one at a
 * time: for merging two sorted lists and for parsers that look at one line after another.
 */
export class ItemCursor<T> {
  private readonly batches: AsyncIterator<T[]>;
  private batch: T[] = [];
  private pos = 0;
  private ended = false;

  constructor(source: AsyncIterable<T[]>) {
    this.batches = source[Symbol.asyncIterator]();
  }

  /** The next item if it is already at hand (no await): undefined when the next batch must be read first. */
  peekNow(): T | null | undefined {
    if (this.pos < this.batch.length) return this.batch[this.pos];
    return this.ended ? null : undefined;
  }

  /** Takes the item peekNow() returned. */
  skipNow(): void {
    this.pos++;
  }

  /** The next item without taking it; null at the end. */
  async peek(): Promise<T | null> {
    while (this.pos >= this.batch.length) {
      if (this.ended) return null;
      const r = await this.batches.next();
      if (r.done) {
        this.ended = true;
        return null;
      }
      this.batch = r.value;
      this.pos = 0;
    }
    return this.batch[this.pos];
  }

  /** The next item, taken; null at the end. */
  async next(): Promise<T | null> {
    const item = await this.peek();
    if (item !== null) this.pos++;
    return item;
  }

  /** Stops the source early (closes what it reads from). */
  async close(): Promise<void> {
    this.ended = true;
    await this.batches.return?.(undefined);
  }
}

/**
 * Walks a manifest's entries (in archive order) in step with another sorted list: seek() moves
 * forward to a path and returns the entry listed under it, if any. Synchronous while the
 * current batch lasts (most calls), a promise only to read the next. A stream that fails
 * part-way is reported to `onUnreadable` and then lists nothing more.
 */
export class EntryCursor<T extends { path: string }> {
  private readonly entries: ItemCursor<T>;
  private unreadable = false;

  constructor(
    entries: AsyncIterable<T[]>,
    private readonly onUnreadable: (err: unknown) => void,
  ) {
    this.entries = new ItemCursor(entries);
  }

  seek(target: string): T | null | Promise<T | null> {
    if (this.unreadable) return null;
    for (;;) {
      const current = this.entries.peekNow();
      if (current === undefined) {
        return this.entries.peek().then(
          () => this.seek(target),
          (err: unknown) => {
            this.unreadable = true;
            this.onUnreadable(err);
            return null;
          },
        );
      }
      if (current === null) return null;
      const order = compareArchivePaths(current.path, target);
      if (order === 0) return current;
      if (order > 0) return null;
      this.entries.skipNow();
    }
  }
}
