import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CopyHasher } from "@/server/backup/restore/copy-hasher";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "copy-hasher-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function chunks(total: number, size: number): Array<{ at: number; body: Buffer }> {
  const out: Array<{ at: number; body: Buffer }> = [];
  for (let at = 0; at < total; at += size) out.push({ at, body: crypto.randomBytes(Math.min(size, total - at)) });
  return out;
}

describe("hashing the copy of an archive as it is written", () => {
  it("gives the SHA-256 of the whole file when writes complete out of order", async () => {
    const fd = fs.openSync(path.join(dir, "copy"), "wx+", 0o600);
    const hasher = new CopyHasher(fd);
    const parts = chunks(5 * 1024 * 1024 + 123, 700_000);
    // Written (and reported) in a shuffled order: the hasher must wait for the gaps to fill.
    const order = [...parts].sort(() => Math.random() - 0.5);
    for (const { at, body } of order) {
      fs.writeSync(fd, body, 0, body.length, at);
      hasher.markWritten(at, at + body.length);
    }
    const expected = crypto.createHash("sha256").update(Buffer.concat(parts.map((p) => p.body))).digest("hex");
    await expect(hasher.finish()).resolves.toEqual({ bytes: 5 * 1024 * 1024 + 123, sha256: expected });
    fs.closeSync(fd);
  });

  it("refuses a result when a write before the end never completed", async () => {
    const fd = fs.openSync(path.join(dir, "copy"), "wx+", 0o600);
    const hasher = new CopyHasher(fd);
    const parts = chunks(3_000_000, 1_000_000);
    for (const { at, body } of [parts[0], parts[2]]) {
      fs.writeSync(fd, body, 0, body.length, at);
      hasher.markWritten(at, at + body.length);
    }
    await expect(hasher.finish()).rejects.toThrow(/gap/);
    fs.closeSync(fd);
  });
});
