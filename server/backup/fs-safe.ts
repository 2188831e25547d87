/**
 * File operations that must not be seen half-done: fsync a file, rename it into place
 * and fsync the folder, so that after a crash a file under its final name is complete.
 */
import fs from "node:fs";
import path from "node:path";

export async function fsyncFile(file: string): Promise<void> {
  const handle = await fs.promises.open(file, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Renames `from` onto `to` (same folder or volume) and makes the rename durable. */
export async function durableRename(from: string, to: string): Promise<void> {
  await fs.promises.rename(from, to);
  await fsyncDir(path.dirname(to));
}

/**
 * Gives `from` the name `to` only if no file has that name yet (link, then unlink), and makes
 * it durable: unlike rename, it can never replace another archive. Throws EEXIST otherwise.
 */
export async function linkIntoPlace(from: string, to: string): Promise<void> {
  await fs.promises.link(from, to);
  await fs.promises.unlink(from);
  await fsyncDir(path.dirname(to));
}

/** Writes a small file atomically: temp name, fsync, rename, fsync the folder. */
export async function writeFileAtomic(file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const handle = await fs.promises.open(tmp, "wx", 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await durableRename(tmp, file);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
}

/** Free bytes for an unprivileged writer on the volume holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const stats = await fs.promises.statfs(dir);
  return Number(stats.bavail) * Number(stats.bsize);
}
