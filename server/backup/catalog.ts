/**
 * The catalog of backups: rows in the `backups` table, their archives in NAS_BACKUP_PATH,
 * and a manifest copy per archive in a hidden folder beside them (so an incremental can
 * read its parent's file list without scanning the parent archive).
 *
 * Invariant: the file of a backup is always `<NAS_BACKUP_PATH>/<archive_dir>/<filename>`
 * with a filename this module generated and an archive_dir checked by destination.ts (plain
 * folder names, no dot-folders, no `..`); the path stored in the row is informational and
 * never used for I/O, so no row (or client) can point the server at another file.
 */
import fs from "node:fs";
import path from "node:path";
import { and, desc, eq, inArray } from "drizzle-orm";
import type { AppDatabase } from "@/db/client";
import { backups, type Backup } from "@/db/schema";
import type { AppConfig } from "../config";
import { AppError } from "../errors";
import { readManifestFromArchive, type BackupManifest } from "./archive";
import { splitLines, TEXT_CHUNK } from "./archive/line-spool";
import { manifestAsStream, readManifestStream, serializeManifest, type ManifestStream } from "./archive/manifest";
import { checkedArchiveDir } from "./destination";
import { archiveKeys } from "./encryption";
import { writeFileAtomic } from "./fs-safe";

/** `backup_….tar.gz`, or `backup_….tar.gz.age` for an encrypted one (age: `age -d` gives the .tar.gz). */
export const ARCHIVE_NAME_PATTERN = /^backup_\d{8}_\d{6}(?:_\d{1,4})?\.tar\.gz(?:\.age)?$/;
export const ENCRYPTED_SUFFIX = ".age";

export function isEncryptedName(filename: string): boolean {
  return filename.endsWith(".tar.gz" + ENCRYPTED_SUFFIX);
}
export const PARTIAL_SUFFIX = ".partial";
export const STAGING_PREFIX = ".staging-";
/** Archives being received (uploads, imports) before they are verified and named. */
export const INCOMING_PREFIX = ".incoming-";
export const MANIFEST_DIR = ".manifests";

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** `backup_YYYYMMDD_HHMMSS` (the stem of the .tar.gz / .tar.gz.age name) in UTC. */
export function archiveBaseName(date: Date): string {
  return (
    `backup_${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}` +
    `_${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}`
  );
}

/**
 * A name no row and no file uses yet: a second backup in the same second gets a suffix.
 * Names are unique across all archive folders (the manifest copies share one folder), and a
 * stem is used once whether encrypted or not (backup_X.tar.gz and backup_X.tar.gz.age never both).
 */
export function uniqueArchiveName(db: AppDatabase, config: AppConfig, date: Date, archiveDir = "", encrypted = false): string {
  const base = archiveBaseName(date);
  for (let n = 1; n < 10000; n++) {
    const plain = n === 1 ? `${base}.tar.gz` : `${base}_${n}.tar.gz`;
    const variants = [plain, plain + ENCRYPTED_SUFFIX];
    const where = (name: string, dir: string) => archivePath(config, { filename: name, archiveDir: dir });
    const taken = variants.some(
      (name) =>
        db.select({ id: backups.id }).from(backups).where(eq(backups.filename, name)).get() ||
        [...new Set(["", archiveDir])].some((dir) => fs.existsSync(where(name, dir)) || fs.existsSync(where(name, dir) + PARTIAL_SUFFIX)),
    );
    if (!taken) return encrypted ? plain + ENCRYPTED_SUFFIX : plain;
  }
  throw new AppError("CONFLICT", "Too many backups were started in the same second. Wait a moment and try again.");
}

/** Where a backup's archive lives: its name and the sub-folder of NAS_BACKUP_PATH ("" = the folder itself). */
export type ArchiveLocation = Pick<Backup, "filename"> & { archiveDir?: string };

/** The archive of a backup, always inside NAS_BACKUP_PATH. */
export function archivePath(config: AppConfig, where: ArchiveLocation): string {
  if (!ARCHIVE_NAME_PATTERN.test(where.filename)) {
    throw new AppError("INTERNAL", `Refusing to use the unexpected archive name "${where.filename}".`);
  }
  return path.join(config.backupPath, checkedArchiveDir(where.archiveDir ?? ""), where.filename);
}

export function partialPath(config: AppConfig, where: ArchiveLocation): string {
  return archivePath(config, where) + PARTIAL_SUFFIX;
}

export function stagingPath(config: AppConfig, backupId: number): string {
  return path.join(config.backupPath, `${STAGING_PREFIX}${backupId}`);
}

export function manifestCopyPath(config: AppConfig, filename: string): string {
  return path.join(config.backupPath, MANIFEST_DIR, `${filename}.json`);
}

/** The archive's seek index beside its manifest copy (archive/seek-index.ts); absent for imported or older archives. */
export function seekIndexPath(config: AppConfig, filename: string): string {
  return path.join(config.backupPath, MANIFEST_DIR, `${filename}.seek`);
}

/** The browse index of a backup (browse/tree-index.ts), built on first use; `-wal`/`-shm`/`.partial` beside it. */
export function treeIndexPath(config: AppConfig, filename: string): string {
  return path.join(config.backupPath, MANIFEST_DIR, `${filename}.tree.sqlite`);
}

/** What the manifest folder holds per archive, after the archive's file name. */
const SIDECAR_SUFFIXES = [".json", ".seek", ".tree.sqlite", ".tree.sqlite-wal", ".tree.sqlite-shm", ".tree.sqlite-journal"];

/** Whether a name in the manifest folder belongs to one of the catalogued archives (retention sweeps the rest). */
export function isCatalogSidecar(name: string, knownFilenames: ReadonlySet<string>): boolean {
  return SIDECAR_SUFFIXES.some((suffix) => name.endsWith(suffix) && knownFilenames.has(name.slice(0, -suffix.length)));
}

async function saveManifestCopy(config: AppConfig, filename: string, manifest: BackupManifest): Promise<void> {
  await fs.promises.mkdir(path.join(config.backupPath, MANIFEST_DIR), { recursive: true });
  await writeFileAtomic(manifestCopyPath(config, filename), serializeManifest(manifest));
}

/** A backup's manifest: the copy beside the archive, or else read from the archive itself. */
async function loadManifest(config: AppConfig, row: Backup): Promise<BackupManifest> {
  try {
    return JSON.parse(await fs.promises.readFile(manifestCopyPath(config, row.filename), "utf8")) as BackupManifest;
  } catch {
    // An encrypted archive without its copy opens with the keys the server keeps, if any.
    const keys = row.encryption ? await archiveKeys(config) : undefined;
    const manifest = await readManifestFromArchive(archivePath(config, row), keys);
    await saveManifestCopy(config, row.filename, manifest).catch(() => undefined);
    return manifest;
  }
}

/**
 * A backup's manifest as a stream (head first, entries in batches): from the copy beside the
 * archive, which the writer saves in the line form, so that an incremental can walk its
 * parent's list of millions of files without holding it. Without a copy, read from the archive.
 */
export async function streamManifest(config: AppConfig, row: Backup): Promise<ManifestStream> {
  const copy = manifestCopyPath(config, row.filename);
  const handle = await fs.promises.open(copy, "r").catch(() => null);
  if (!handle) return manifestAsStream(await loadManifest(config, row));
  try {
    return await readManifestStream(splitLines(handle.createReadStream({ highWaterMark: TEXT_CHUNK })), row.filename);
  } catch {
    await handle.close().catch(() => undefined);
    return manifestAsStream(await loadManifest(config, row));
  }
}

export function getBackupRow(db: AppDatabase, id: number): Backup {
  const row = db.select().from(backups).where(eq(backups.id, id)).get();
  if (!row) throw new AppError("BACKUP_NOT_FOUND", `Backup ${id} does not exist.`);
  return row;
}

/**
 * A short text that changes whenever the catalog does: a row added or removed, a state,
 * verification or pin changing. One aggregate query, cheap enough to poll every second or two.
 */
export function catalogVersion(db: AppDatabase): string {
  const row = db.$client
    .prepare(
      `SELECT count(*) AS n, coalesce(max(id), 0) AS top, coalesce(sum(status = 'in_progress'), 0) AS running,
              coalesce(max(completed_at), 0) AS done, coalesce(max(verified_at), 0) AS checked,
              coalesce(sum(protected * id), 0) AS pins, coalesce(sum(status = 'failed'), 0) AS failed
         FROM backups`,
    )
    .get() as Record<string, number>;
  return [row.n, row.top, row.running, row.done, row.checked, row.pins, row.failed].join(".");
}

export function listBackupRows(db: AppDatabase): Backup[] {
  return db.select().from(backups).orderBy(desc(backups.createdAt), desc(backups.id)).all();
}

/** Completed incrementals (and running ones) that build directly on a backup. */
export function dependentsOf(db: AppDatabase, id: number): Backup[] {
  return db
    .select()
    .from(backups)
    .where(and(eq(backups.parentId, id), inArray(backups.status, ["completed", "in_progress"])))
    .all();
}

/** Removes a backup's files: the archive, its partial, and its manifest copy. */
export async function removeBackupFiles(config: AppConfig, where: ArchiveLocation): Promise<void> {
  await fs.promises.rm(archivePath(config, where), { force: true });
  await fs.promises.rm(partialPath(config, where), { force: true });
  await fs.promises.rm(manifestCopyPath(config, where.filename), { force: true });
  await fs.promises.rm(seekIndexPath(config, where.filename), { force: true });
  for (const suffix of ["", "-wal", "-shm", "-journal"]) await fs.promises.rm(treeIndexPath(config, where.filename) + suffix, { force: true });
}
