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
