/**
 * A temporary file of text lines, written in order and read back in order: what a backup
 * would otherwise keep in memory for every entry of the tree (the scanned file list, the
 * manifest entries until the manifest is written last) goes here, so memory stays the same
 * whether a tree holds ten thousand files or ten million.
 *
 * Writes are gathered into 1 MiB buffers; reads come back in 1 MiB chunks. The file is created
 * with "wx" (mode 0600) and removed by remove(); a crash leaves it to the caller's sweep (its
 * name is chosen by the caller for that).
 */
import fs from "node:fs";
import { StringDecoder } from "node:string_decoder";

const CHUNK = 1 << 20;
/**
 * Text is read back in 64 KiB pieces: V8 keeps decoded strings of about 1 MB and more outside
 * its heap ("external"), every line sliced from one keeps all of it alive, and only a full
 * collection frees it; with 1 MiB pieces a walk of millions of lines held 50 MB that way.
 */
export const TEXT_CHUNK = 64 * 1024;

export class LineSpool {
  private pending: string[] = [];
  private pendingLength = 0;
  private bytes = 0;
  private lineCount = 0;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly handle: fs.promises.FileHandle,
  ) {}

  static async create(file: string): Promise<LineSpool> {
    return new LineSpool(file, await fs.promises.open(file, "wx", 0o600));
  }

  /** The file's size in bytes (UTF-8, newlines included): exact once finish() has run. */
  get size(): number {
    return this.bytes;
  }

  get count(): number {
    return this.lineCount;
  }

  /** Appends one line (it must not contain "\n"). Returns a promise only when a buffer is flushed. */
  append(line: string): Promise<void> | undefined {
    this.pending.push(line, "\n");
    this.pendingLength += line.length + 1;
    this.lineCount++;
    return this.pendingLength >= CHUNK ? this.flush() : undefined;
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const data = Buffer.from(this.pending.join(""), "utf8");
    this.pending = [];
    this.pendingLength = 0;
    this.bytes += data.length;
    let off = 0;
    while (off < data.length) off += (await this.handle.write(data, off, data.length - off)).bytesWritten;
  }

  /** Flushes and closes the file for writing; read it back with chunks() or lines(). */
  async finish(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    await this.handle.close();
  }

  /** The file's bytes, in order (closes the spool for writing). */
  async *chunks(): AsyncGenerator<Buffer> {
    await this.finish();
    const fh = await fs.promises.open(this.path, "r");
    try {
      const buf = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
        if (bytesRead === 0) return;
        yield Buffer.from(buf.subarray(0, bytesRead));
      }
    } finally {
      await fh.close();
    }
  }

  /**
   * The lines written so far, in order, in batches, without closing the spool for writing
   * (what is buffered is written out first). Appending while reading is not supported.
   */
  async *linesSoFar(): AsyncGenerator<string[]> {
    if (!this.closed) await this.flush();
    const end = this.bytes;
    const fh = await fs.promises.open(this.path, "r");
    try {
      yield* splitLines(
        (async function* () {
          const buf = Buffer.allocUnsafe(TEXT_CHUNK);
          for (let pos = 0; pos < end; ) {
            const { bytesRead } = await fh.read(buf, 0, Math.min(TEXT_CHUNK, end - pos), pos);
            if (bytesRead === 0) return;
            pos += bytesRead;
            yield Buffer.from(buf.subarray(0, bytesRead));
          }
        })(),
      );
    } finally {
      await fh.close();
    }
  }

  /** The lines, in order, in batches (one await per batch, not per line); closes the spool for writing. */
  async *lines(): AsyncGenerator<string[]> {
    await this.finish();
    yield* this.linesSoFar();
  }

  /**
   * The lines from last to first, in batches (closes the spool for writing). Lines are split on
   * the newline byte, which never occurs inside a UTF-8 sequence; empty lines are skipped.
   */
  async *linesReversed(): AsyncGenerator<string[]> {
    await this.finish();
    const fh = await fs.promises.open(this.path, "r");
    try {
      let end = this.bytes;
      let carry = Buffer.alloc(0); // the start of a line whose beginning lies further back
      while (end > 0) {
        const start = Math.max(0, end - TEXT_CHUNK);
        const buf = Buffer.allocUnsafe(end - start);
        for (let off = 0; off < buf.length; ) {
          const { bytesRead } = await fh.read(buf, off, buf.length - off, start + off);
          if (bytesRead === 0) throw new Error(`${this.path} is shorter than what was written to it`);
          off += bytesRead;
        }
        const data = carry.length > 0 ? Buffer.concat([buf, carry]) : buf;
        const lines: string[] = [];
        let lineEnd = data.length;
        for (let i = data.length - 1; i >= 0; i--) {
          if (data[i] !== 0x0a) continue;
          if (lineEnd > i + 1) lines.push(data.toString("utf8", i + 1, lineEnd));
          lineEnd = i;
        }
        carry = Buffer.from(data.subarray(0, lineEnd));
        if (start === 0 && carry.length > 0) lines.push(carry.toString("utf8"));
        end = start;
        if (lines.length > 0) yield lines;
      }
    } finally {
      await fh.close();
    }
  }

  /** Closes (if still open) and deletes the file. Never throws. */
  async remove(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.handle.close().catch(() => undefined);
    }
    await fs.promises.rm(this.path, { force: true }).catch(() => undefined);
  }
}

/** The lines of a text file, in batches. */
export function linesOfFile(file: string): AsyncGenerator<string[]> {
  return splitLines(fs.createReadStream(file, { highWaterMark: TEXT_CHUNK }));
}

/**
 * Splits a stream of UTF-8 chunks into lines, yielded in batches; a last line without "\n"
 * counts too. Only new text is searched for newlines and an unfinished line is kept in pieces,
 * joined once it ends: a line spanning many chunks (a manifest written on one line) costs time
 * in proportion to its length, not to its square.
 */
export async function* splitLines(chunks: AsyncIterable<Buffer>): AsyncGenerator<string[]> {
  const decoder = new StringDecoder("utf8");
  let pending: string[] = [];
  for await (const chunk of chunks) {
    const text = decoder.write(chunk);
    const first = text.indexOf("\n");
    if (first < 0) {
      if (text.length > 0) pending.push(text);
      continue;
    }
    const parts = text.split("\n");
    parts[0] = pending.length > 0 ? pending.join("") + parts[0] : parts[0];
    const last = parts.pop()!;
    pending = last.length > 0 ? [last] : [];
    yield parts;
  }
  const rest = pending.join("") + decoder.end();
  if (rest.length > 0) yield [rest];
}
