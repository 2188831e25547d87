/**
 * Restoring a backup without losing anything.
 *
 *   1. check    the request (confirm, parts the backup holds), take the operation lock
 *   2. stage    every archive of the chain (an incremental needs its full backup and the
 *               incrementals between) is extracted with the hardened extractor into staging
 *               folders beside the live data, on the same volume; sizes and SHA-256 checked
 *               against the manifests, the database integrity-checked and its schema level
 *               compared with this version's
 *   3. safety   a backup of the current state of the parts being replaced (plan.ts), so
 *               this restore can itself be undone;
 *               if it fails nothing is touched
 *   4. commit   the journal is written: from here the swap always completes, at the latest
 *               at the next start-up (journal.ts)
 *   5. swap     database, files and config renamed into place in one synchronous step
 *               (merged into the live trees for an archive without a file list, see journal.ts);
 *               the restored database gets this version's migrations and the current
 *               catalog and audit log, and the app's handle reopens on it
 *
 * Until step 4 the live data is untouched, and any failure just deletes the staging.
 */
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import {
  appliedMigrationLevel,
  closeDatabase,
  getDb,
  markDatabaseUnavailable,
  openDatabase,
  shippedMigrationLevel,
  type AppDatabase,
} from "@/db/client";
import type { Backup } from "@/db/schema";
import { recordAudit, type Actor } from "../../audit";
import type { AppConfig } from "../../config";
import { AppError, describeError } from "../../errors";
import { walkTreeBatches } from "../archive";
import type { ManifestSummary } from "../archive/manifest";
import { archivePath, getBackupRow, streamManifest } from "../catalog";
import type { AgeKeys } from "../crypto";
import { archiveKeys } from "../encryption";
import { crashPoint } from "../failpoints";
import { freeBytes, fsyncDir, fsyncFile } from "../fs-safe";
import { acquireOperationLock, type HeldLock } from "../lock";
import { startupRecoveryDone } from "../recovery";
import { createBackup } from "../service";
import { assertSpace, planRestoreSpace, safetyBackupInput } from "./plan";
import { NeededFiles } from "./chain";
import { extractArchive } from "./extract";
import { assertOwnDatabase, refuseForeignDatabase } from "./foreign";
import { completeSwap, removeLeftoversLater, readJournal, WORK_DIR, writeJournal, type RestoreJournal, type TreeSwap } from "./journal";
import { finishRestoreProgress, startRestoreProgress, type RestoreProgress } from "./progress";

const execFileAsync = promisify(execFile);

export interface RestoreParts {
  database: boolean;
  files: boolean;
  config: boolean;
}

export interface RestoreOptions {
  db: AppDatabase;
  config: AppConfig;
  actor: Actor;
  backupId: number;
  parts: RestoreParts;
  confirm: boolean;
  /** Free space of a folder's volume; injectable so tests can simulate a full disk. */
  freeSpace?: (dir: string) => Promise<number>;
  /** Passphrase / identities for encrypted archives, besides what the server keeps (encryption.ts). */
  keys?: AgeKeys;
}

export interface RestoreOutcome {
  success: true;
  message: string;
  backup_id: number;
  restored_at: string;
  safety_backup_id: number;
}

export const RESTORED_MESSAGE = "Backup restored successfully. Reload the application to see the restored data.";
/** Added to the outcome of a restore of an archive without a file list (a merge). */
export const MERGED_NOTE =
  " The archive has no list of every file, so its files were added and replaced: files deleted since it was made cannot be known and were left in place.";

/** The chain of a backup, oldest (the full backup) first, each with its archive on disk. */
export function resolveChain(db: AppDatabase, config: AppConfig, target: Backup): Backup[] {
  const chain: Backup[] = [];
  const seen = new Set<number>();
  let current: Backup | null = target;
  while (current) {
    if (seen.has(current.id)) throw new AppError("ARCHIVE_INVALID", `The chain of ${target.filename} loops at ${current.filename}.`);
    seen.add(current.id);
    if (current.status !== "completed") {
      throw new AppError("CONFLICT", `${current.filename} is ${current.status.replace("_", " ")}; only completed backups can be restored.`);
    }
    if (!fs.existsSync(archivePath(config, current))) {
      throw new AppError(
        "BACKUP_NOT_FOUND",
        current.id === target.id
          ? `The archive ${current.filename} is missing from the backup folder.`
          : `${target.filename} is incremental and needs ${current.filename}, whose archive is missing. It cannot be restored.`,
      );
    }
    chain.unshift(current);
    if (current.parentId === null) break;
    const parentId: number = current.parentId;
    try {
      current = getBackupRow(db, parentId);
    } catch {
      throw new AppError(
        "BACKUP_NOT_FOUND",
        `${target.filename} is incremental and needs an older backup that is no longer in the list. It cannot be restored.`,
      );
    }
  }
  return chain;
}

export function checkParts(row: Backup, parts: RestoreParts): void {
  if (!parts.database && !parts.files && !parts.config) {
    throw new AppError("BAD_REQUEST", "Choose at least one of database, files or config to restore.");
  }
  const missing = [
    parts.database && !row.includesDatabase ? "the database" : null,
    parts.files && !row.includesFiles ? "files" : null,
    parts.config && !row.includesConfig ? "the config folder" : null,
  ].filter(Boolean);
  if (missing.length) {
    throw new AppError("BAD_REQUEST", `${row.filename} does not contain ${missing.join(" or ")}: leave ${missing.length > 1 ? "those" : "that"} unticked.`);
  }
  refuseForeignDatabase(row, parts);
}

export function checkSchemaLevel(level: number, what: string): void {
  const ours = shippedMigrationLevel();
  if (level > ours) {
    throw new AppError(
      "INCOMPATIBLE_VERSION",
      `${what} was made by a newer version of BaluHost (database schema level ${level}; this installation has ${ours}). ` +
        "Upgrade BaluHost, then restore it.",
    );
  }
}

export interface Staging {
  database?: string;
  files?: string;
  config?: string;
  workDirs: string[];
}

/** Mount points of this process's mount namespace (Linux); null where /proc is missing. */
function mountPoints(): string[] | null {
  try {
    return fs
      .readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => line.split(" ")[4]!.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))));
  } catch {
    return null;
  }
}

/**
 * The swap renames each top-level entry of the storage and config folders and finally
 * deletes the old tree. A volume mounted anywhere inside them cannot be renamed at the top
 * (EBUSY), and below the top it would be moved aside and emptied by that delete; so it must
 * be found now, before the restore commits.
 */
function checkSwappable(config: AppConfig, parts: RestoreParts): void {
  const roots = [parts.files ? config.storagePath : null, parts.config ? config.configPath : null].filter((r): r is string => r !== null);
  const mounts = mountPoints();
  for (const root of roots) {
    const real = fs.realpathSync(root);
    const nested = mounts
      ? mounts.filter((m) => m.startsWith(real + path.sep))
      : fs
          .readdirSync(root)
          .filter((name) => name !== WORK_DIR)
          .map((name) => path.join(root, name))
          .filter((p) => {
            const entry = fs.lstatSync(p);
            return entry.isDirectory() && entry.dev !== fs.statSync(root).dev;
          });
    if (nested.length) {
      throw new AppError(
        "CONFLICT",
        `${nested[0]} is a separate volume mounted inside ${root}; a restore replaces that folder and cannot move it aside. ` +
          "Unmount it first, or restore without files.",
      );
    }
  }
}

function prepareStaging(config: AppConfig, parts: RestoreParts): Staging {
  const fresh = (dir: string) => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  };
  const dbWork = path.join(path.dirname(config.databasePath), WORK_DIR);
  const staging: Staging = { workDirs: [] };
  if (parts.database) {
    staging.database = fresh(path.join(dbWork, "database"));
    staging.workDirs.push(dbWork);
  }
  if (parts.files) {
    staging.files = fresh(path.join(config.storagePath, WORK_DIR, "new"));
    staging.workDirs.push(path.join(config.storagePath, WORK_DIR));
  }
  if (parts.config) {
    staging.config = fresh(path.join(config.configPath, WORK_DIR, "new"));
    staging.workDirs.push(path.join(config.configPath, WORK_DIR));
  }
  return staging;
}

/**
 * Extracts what the target needs from each archive of its chain, newest first: the target
 * holds everything that changed, and each older archive supplies the unchanged files it
 * still lacks. A file is taken from an archive only if its hash is the one the target lists.
 */
export async function stageChain(opts: {
  config: AppConfig;
  chain: Backup[];
  target: Backup;
  parts: RestoreParts;
  staging: Staging;
  progress: RestoreProgress;
  /** Free bytes of the staging volume: no archive may unpack to more (a decompression bomb). */
  maxTotalBytes: number;
  /** Keys given for this operation; the server's own are added. */
  keys?: AgeKeys;
}): Promise<{ manifest: ManifestSummary | null }> {
  const { config, chain, parts, staging, progress } = opts;
  const keys = chain.some((b) => b.encryption) ? await archiveKeys(config, opts.keys) : undefined;
  const destinations = { database: staging.database, files: staging.files, config: staging.config };
  const workDir = staging.workDirs[0];
  const targetManifest = path.join(workDir, "target-manifest.json");
  const newestFirst = [...chain].reverse();
  let manifest: ManifestSummary | null = null;
  let needed: NeededFiles | null = null;
  progress.bytesTotal = newestFirst.reduce((n, b) => n + b.sizeBytes, 0);
  try {
    for (const [index, backup] of newestFirst.entries()) {
      if (needed && needed.count === 0) break;
      progress.step = index === 0 ? "verifying" : `verifying ${backup.filename}, an older part of the chain`;
      const bytesBefore = progress.bytesDone;
      const pass = needed ? await needed.pass() : null;
      const result = await extractArchive({
        archivePath: archivePath(config, backup),
        destinations: index === 0 ? destinations : { files: destinations.files, config: destinations.config },
        wanted: pass ? pass.wanted : (p) => isRequestedPart(p, parts),
        limits: { maxTotalBytes: opts.maxTotalBytes },
        workDir,
        manifestCopyPath: index === 0 ? targetManifest : undefined,
        onWritten: pass?.onWritten,
        keys,
        onProgress: (p) => {
          progress.bytesDone = bytesBefore + p.compressedBytesRead;
          progress.filesDone = p.entriesDone;
        },
      }).catch(async (err: unknown) => {
        await pass?.abort();
        throw err;
      });
      await pass?.finish();
      if (pass?.inconsistent) {
        throw new AppError(
          "ARCHIVE_INVALID",
          `The file ${pass.inconsistent} in ${backup.filename} does not match what ${opts.target.filename} lists for it: the chain is inconsistent.`,
        );
      }
      if (index === 0) {
        manifest = result.manifest;
        if (!manifest) return { manifest: null }; // foreign archive: no chain, nothing more to check
        checkSchemaLevel(manifest.migration_level, backup.filename);
        needed = await NeededFiles.fromManifest(targetManifest, (p) => isRequestedPart(p, parts), workDir);
        await fs.promises.rm(targetManifest, { force: true });
      }
    }
    if (needed && needed.count > 0) {
      throw new AppError(
        "ARCHIVE_INVALID",
        `${needed.count} file(s) listed by ${opts.target.filename}, such as ${await needed.first()}, are in none of the backups of its chain.`,
      );
    }
  } finally {
    await needed?.remove();
  }
  return { manifest };
}

/** Our work folder at the top of a tree ("files/.baluhost-restore/…") is never restored over the live one. */
function isWorkFolderPath(p: string): boolean {
  return p.split("/")[1] === WORK_DIR;
}

export function isRequestedPart(p: string, parts: RestoreParts): boolean {
  if (isWorkFolderPath(p)) return false;
  const part = p.split("/")[0];
  return (part === "database" && parts.database) || (part === "files" && parts.files) || (part === "config" && parts.config);
}

/**
 * Makes the staged database one self-contained, healthy file: a -wal that came with a
 * foreign archive is applied here, inside staging, never beside the live database.
 */
export function finishStagedDatabase(dir: string, what: string): void {
  const file = path.join(dir, "baluhost.db");
  if (!fs.existsSync(file)) throw new AppError("ARCHIVE_INVALID", `${what} has no database (backup/database/baluhost.db).`);
  const staged = new Database(file);
  try {
    staged.pragma("wal_checkpoint(TRUNCATE)");
    staged.pragma("journal_mode = DELETE");
    const result = staged.pragma("integrity_check", { simple: true });
    if (result !== "ok") throw new AppError("ARCHIVE_INVALID", `The database in ${what} is damaged (integrity check: ${String(result)}). Nothing was restored.`);
    assertOwnDatabase(file, what);
    checkSchemaLevel(appliedMigrationLevel(staged), what);
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError("ARCHIVE_INVALID", `The database in ${what} cannot be opened: ${describeError(err)}. Nothing was restored.`);
  } finally {
    staged.close();
  }
  // Migrate here, in staging, before the restore commits: a database whose schema cannot be
  // brought to this version (another program's, or damaged) is refused while nothing is touched,
  // instead of failing after the swap.
  try {
    migrateFile(file);
    const migrated = new Database(file);
    try {
      migrated.pragma("wal_checkpoint(TRUNCATE)");
      migrated.pragma("journal_mode = DELETE");
    } finally {
      migrated.close();
    }
  } catch (err) {
    throw new AppError(
      "INCOMPATIBLE_VERSION",
      `The database in ${what} cannot be brought to this version's schema (${describeError(err)}). ` +
        "It may come from another program or a damaged installation. Nothing was restored.",
    );
  }
  for (const suffix of ["-wal", "-shm"]) fs.rmSync(file + suffix, { force: true });
}

/**
 * Refuses to start without room for the staging copy (on the data volume) and the safety
 * backup of the parts being replaced (on the backup volume); one volume needs room for both.
 */
async function checkSpace(opts: Pick<RestoreOptions, "config" | "freeSpace" | "parts">, need: { staged: number; backupFolder: number }): Promise<void> {
  assertSpace(
    await planRestoreSpace({ config: opts.config, parts: opts.parts, stagedBytes: need.staged, backupFolderBytes: need.backupFolder, freeSpace: opts.freeSpace }),
  );
}

/** What staging a backup unpacks to: the manifest knows it exactly; an archive without one may expand a lot. */
export async function stagedBytes(config: AppConfig, chain: Backup[], target: Backup): Promise<number> {
  // An archive without a file list has no manifest to find (looking would read it whole).
  const manifest = target.fileList ? await streamManifest(config, target).catch(() => null) : null;
  await manifest?.close();
  return manifest ? manifest.head.totals.bytes : chain.reduce((n, b) => n + b.sizeBytes, 0) * 4;
}

/**
 * Makes the staged data durable before the journal commits to it: after a power cut the
 * roll-forward must find every staged byte on disk. `sync -f` flushes each staging
 * filesystem in one call (syncfs); where it is missing, every staged file is fsynced.
 */
async function syncStaging(staging: Staging): Promise<void> {
  const roots = [staging.database, staging.files, staging.config].filter((d): d is string => Boolean(d));
  for (const root of roots) {
    try {
      await execFileAsync("sync", ["-f", root]);
    } catch {
      for await (const batch of walkTreeBatches(root)) {
        for (const entry of batch) if (entry.type === "file") await fsyncFile(path.join(root, entry.path));
      }
    }
    await fsyncDir(root);
  }
}

function treeSwap(root: string, staged: string, merge: boolean): TreeSwap {
  return { root, staged, aside: path.join(root, WORK_DIR, "old"), ...(merge ? { merge } : {}) };
}

/** Opens and closes a database file once, which applies this version's migrations to it. */
function migrateFile(file: string): void {
  openDatabase(file).sqlite.close();
}

/** A backup's file name for messages, read before the checks (an unknown id still gets its 404 from them). */
function filenameOrId(db: AppDatabase, id: number): string {
  try {
    return getBackupRow(db, id).filename;
  } catch {
    return `backup ${id}`;
  }
}

export async function restoreBackup(opts: RestoreOptions): Promise<RestoreOutcome> {
  const { db, config, backupId, parts } = opts;
  let target: Backup | undefined;
  let chain: Backup[] = [];
  return runRestore(opts, {
    subject: `restore of ${filenameOrId(db, backupId)} by ${opts.actor.username}`,
    backupId,
    check: () => {
      target = getBackupRow(db, backupId);
      checkParts(target, parts);
    },
    space: async () => {
      chain = resolveChain(db, config, target!);
      return { staged: await stagedBytes(config, chain, target!), backupFolder: 0 };
    },
    stage: async ({ staging, progress, maxTotalBytes }) => {
      const { manifest } = await stageChain({ config, chain, target: target!, parts, staging, progress, maxTotalBytes, keys: opts.keys });
      return { target: target!, chain, manifest };
    },
  });
}

/**
 * Where a restore's data comes from: a catalogued backup and its chain (restoreBackup), or
 * an archive file read once (from-file.ts). The rest of the restore is the same for both.
 */
export interface RestoreSource {
  /** What the lock says is running. */
  subject: string;
  /** The backup restored, when known before staging (for progress and the audit log). */
  backupId: number | null;
  /** Checks made before the lock is taken: they refuse a request without touching anything. */
  check: () => void;
  /** Bytes the staging may unpack to (an estimate) and bytes the backup folder needs besides the safety backup. */
  space: () => Promise<{ staged: number; backupFolder: number }>;
  /** Stages everything to put in place; the backup restored is in the catalog afterwards. */
  stage: (ctx: { staging: Staging; progress: RestoreProgress; maxTotalBytes: number }) => Promise<{
    target: Backup;
    chain: Backup[];
    manifest: ManifestSummary | null;
  }>;
}

/** Steps 1 to 5 of the module comment, with the source's check and staging. */
export async function runRestore(opts: Omit<RestoreOptions, "backupId">, source: RestoreSource): Promise<RestoreOutcome> {
  const { db, config, actor, parts } = opts;
  let lock: HeldLock | undefined;
  let staging: Staging | undefined;
  let committed = false;
  let keepLock = false;
  let progress: RestoreProgress | undefined;
  let backupId = source.backupId;
  try {
    if (!opts.confirm) {
      throw new AppError("BAD_REQUEST", "Restoring overwrites the current data. Confirm it (confirm: true) to go ahead.");
    }
    source.check();
    await startupRecoveryDone();
    lock = acquireOperationLock(config.backupPath, "restore", source.subject);
    progress = startRestoreProgress(backupId ?? 0);
    await checkSpace(opts, await source.space());
    checkSwappable(config, parts);

    progress.step = "verifying";
    staging = prepareStaging(config, parts);
    const stagingSpace = await (opts.freeSpace ?? freeBytes)(config.storagePath);
    const { target, chain, manifest } = await source.stage({ staging, progress, maxTotalBytes: stagingSpace });
    backupId = target.id;
    progress.backupId = target.id;
    if (staging.database) finishStagedDatabase(staging.database, target.filename);
    await syncStaging(staging);
    crashPoint("restore:staged");

    progress.step = "safety backup";
    const safety = await createBackup({
      db,
      config,
      actor,
      // Exactly the parts this restore replaces: undoing it restores them, nothing more is copied.
      input: safetyBackupInput(parts),
      origin: "safety",
      heldLock: lock,
    });
    if (safety.status !== "completed") {
      throw new AppError("INTERNAL", `The safety backup of the current state failed (${safety.errorMessage}), so nothing was restored.`);
    }

    crashPoint("restore:after-safety-backup");
    progress.step = "swapping";
    // Without a list of every file, what the archive lacks may have been deleted or never
    // backed up: nothing can be removed, only added and replaced.
    const merge = !target.fileList;
    const journal: RestoreJournal = {
      version: 1,
      restoreId: crypto.randomUUID(),
      backupId,
      backupFilename: target.filename,
      phase: "prepared",
      actor: { id: actor.id, username: actor.username, ip: actor.ip ?? null, userAgent: actor.userAgent ?? null },
      startedAt: new Date().toISOString(),
      safetyBackupId: safety.id,
      database: staging.database
        ? {
            live: config.databasePath,
            staged: path.join(staging.database, "baluhost.db"),
            aside: path.join(path.dirname(config.databasePath), WORK_DIR, "previous.db"),
          }
        : undefined,
      files: staging.files ? treeSwap(config.storagePath, staging.files, merge) : undefined,
      config: staging.config ? treeSwap(config.configPath, staging.config, merge) : undefined,
      workDirs: staging.workDirs,
    };
    try {
      writeJournal(config, journal);
    } catch (err) {
      // Once the journal is on disk the restore is committed, even if a later fsync failed:
      // its staging must survive for the roll-forward.
      if (readJournal(config)) committed = true;
      throw err;
    }
    committed = true;
    crashPoint("restore:journal-written");
    // One synchronous step: no request of this process can run between close and reopen.
    if (journal.database) closeDatabase();
    completeSwap(config, journal, migrateFile, { deferCleanup: true });
    const restoredAt = new Date().toISOString();
    // Still under the lock: the old data goes while requests keep being answered.
    await removeLeftoversLater(journal).catch((err: unknown) => console.error("[restore] removing the old data failed; the next start removes it:", err));
    recordAudit(getDb(), {
      action: "backup.restore",
      actor,
      resource: `backup:${backupId}`,
      success: true,
      details: { filename: target.filename, parts, safety_backup_id: safety.id, chain: chain.map((b) => b.id), foreign: manifest === null, merge },
    });
    return { success: true, message: merge && (parts.files || parts.config) ? RESTORED_MESSAGE + MERGED_NOTE : RESTORED_MESSAGE, backup_id: backupId, restored_at: restoredAt, safety_backup_id: safety.id };
  } catch (err) {
    if (!committed && staging) for (const dir of staging.workDirs) fs.rmSync(dir, { recursive: true, force: true });
    if (committed) {
      console.error("[restore] the swap failed after commit; it will be finished at the next start:", err);
    }
    // After the commit the database may be half swapped: opening it here could create an empty
    // one at the live path. The start-up that finishes the restore audits it instead.
    if (!committed) {
      recordAudit(db, {
        action: "backup.restore",
        actor,
        resource: backupId === null ? null : `backup:${backupId}`,
        success: false,
        errorMessage: describeError(err),
        details: { parts },
      });
    }
    if (committed) {
      markDatabaseUnavailable(
        "A restore was committed but could not finish; the data is being swapped. Restart BaluHost: it completes the restore on start-up.",
      );
      // The lock stays with this live process until it restarts and finishes the swap,
      // so nothing else runs on a half-swapped state.
      keepLock = true;
      throw new AppError("INTERNAL", "The restore was committed but could not finish. Restart BaluHost: it completes the restore on start-up.", { cause: err });
    }
    throw err;
  } finally {
    if (progress) finishRestoreProgress(progress);
    if (!keepLock) lock?.release();
  }
}
