import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CreateThread } from "@/server/backup/restore/extract-create-thread";

const FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

let dir: string;
let thread: CreateThread;

function newThread(): CreateThread {
  return new CreateThread({
    createFlags: FLAGS,
    dirMode: 0o755,
    umask: process.umask(),
    mapError: (err, abs, isFile) => (isFile && err.code === "EEXIST" ? Object.assign(new Error(`taken: ${abs}`), { code: err.code }) : err),
  });
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "create-thread-"));
  thread = newThread();
});
afterEach(async () => {
  await thread.stop();
  await thread.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("the restore's creation thread", () => {
  it("creates folders and files in the order queued, byte for byte, with their modes, across many batches", async () => {
    const root = path.join(dir, "out");
    void thread.root(root);
    const bodies = new Map<string, Buffer>();
    for (let d = 0; d < 40; d++) {
      const folder = path.join(root, `d${d}`);
      void thread.dir(folder);
      for (let f = 0; f < 30; f++) {
        const body = crypto.randomBytes(f * 977);
        const file = path.join(folder, `f${f}.bin`);
        bodies.set(file, body);
        // The caller reuses its buffer at once: the thread must have copied it.
        const reused = Buffer.from(body);
        await thread.file(file, f === 0 ? 0o600 : 0o644, reused);
        reused.fill(0);
      }
    }
    // A file larger than what is left in a batch starts the next one.
    const big = crypto.randomBytes(1024 * 1024);
    bodies.set(path.join(root, "big.bin"), big);
    await thread.file(path.join(root, "big.bin"), 0o644, big);
    await thread.drain();
    for (const [file, body] of bodies) expect(fs.readFileSync(file).equals(body), file).toBe(true);
    expect(fs.statSync(path.join(root, "d3", "f0.bin")).mode & 0o777).toBe(0o600);
  });

  it("stops at the first failure, keeps its code and creates nothing queued after it", async () => {
    const root = path.join(dir, "out");
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, "taken.txt"), "the admin's file");
    void thread.root(root);
    await thread.file(path.join(root, "before.txt"), 0o644, Buffer.from("a"));
    await thread.file(path.join(root, "taken.txt"), 0o644, Buffer.from("overwrite?"));
    await thread.file(path.join(root, "after.txt"), 0o644, Buffer.from("b"));
    await expect(thread.drain()).rejects.toMatchObject({ code: "EEXIST", message: `taken: ${path.join(root, "taken.txt")}` });
    expect(fs.readFileSync(path.join(root, "taken.txt"), "utf8")).toBe("the admin's file");
    expect(fs.existsSync(path.join(root, "before.txt"))).toBe(true);
    expect(fs.existsSync(path.join(root, "after.txt"))).toBe(false);
    expect(() => thread.throwIfFailed()).toThrow(/taken/);
  });

  it("refuses to create a folder where a symlink stands, even one to a real folder", async () => {
    const root = path.join(dir, "out");
    fs.mkdirSync(root);
    fs.mkdirSync(path.join(dir, "elsewhere"));
    fs.symlinkSync(path.join(dir, "elsewhere"), path.join(root, "sub"));
    void thread.root(root);
    void thread.dir(path.join(root, "sub"));
    await thread.file(path.join(root, "sub", "x.txt"), 0o644, Buffer.from("x"));
    await expect(thread.drain()).rejects.toMatchObject({ code: "EEXIST" });
    expect(fs.readdirSync(path.join(dir, "elsewhere"))).toEqual([]);
  });

  it("writes nothing more once stop() has returned", async () => {
    const root = path.join(dir, "out");
    void thread.root(root);
    for (let i = 0; i < 5000; i++) await thread.file(path.join(root, `f${i}`), 0o644, Buffer.from(String(i)));
    thread.flush();
    await thread.stop();
    const count = fs.existsSync(root) ? fs.readdirSync(root).length : 0;
    await new Promise((r) => setTimeout(r, 100));
    expect(fs.existsSync(root) ? fs.readdirSync(root).length : 0).toBe(count);
  });
});
