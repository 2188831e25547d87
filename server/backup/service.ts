/**
 * The backup service: the one place that creates, lists, cancels and deletes backups.
 * tRPC, the REST route handlers and the CLI are thin doors into these functions.
 *
 * Lifecycle of a backup: input checked → operation lock taken → free space checked →
 * row created `in_progress` → (in the background) database snapshot, archive written
 * under a temporary name, fsynced, renamed, folder fsynced → row `completed`, or `failed`
 * with a message an admin can act on → lock released. A file under its final name is
 * always complete; a crash leaves only a `.partial` that start-up sweeps away.
 */
import fs from "node:fs";
import path from "node:path";
import { and, desc, eq, inArray } from "drizzle-orm";
import { appliedMigrationLevel, type AppDatabase } from "@/db/client";
import { backups, type Backup, type BackupOrigin, type BackupType } from "@/db/schema";
import { recordAudit, type Actor } from "../audit";
import type { AppConfig } from "../config";
import { AppError, describeError, type AppErrorCode } from "../errors";
import { formatBytes } from "@/lib/format";
import { appVersion } from "../version";
import { MANIFEST_FORMAT, MANIFEST_FORMAT_VERSION, writeBackupArchive, type BackupManifest } from "./archive";
import {
  archivePath,
  dependentsOf,
  getBackupRow,
  listBackupRows,
  manifestCopyPath,
  seekIndexPath,
  PARTIAL_SUFFIX,
  partialPath,
  removeBackupFiles,
  stagingPath,
  streamManifest,
  uniqueArchiveName,
} from "./catalog";
import { toBackupRecord, toMb, type BackupList, type BackupRecord, type CreateBackupInput } from "./contract";
import type { AgeTarget } from "./crypto";
import { resolveBackupDestination } from "./destination";
import { encryptionColumns, encryptionTarget } from "./encryption";
import { durableRename, freeBytes, linkIntoPlace } from "./fs-safe";
import { acquireOperationLock, readLiveLock, type HeldLock } from "./lock";
import { announce } from "./notify/announce";
import { getJob, registerJob, unregisterJob, type BackupProgress } from "./progress";
import { INTERRUPTED_MESSAGE, startupRecoveryDone } from "./recovery";
import { applyRetention } from "./retention";
import { snapshotDatabase } from "./snapshot";
import { planTrees, plannedEntries, type TreePlan } from "./tree-plan";

export interface BackupServiceContext {
  db: AppDatabase;
  config: AppConfig;
  actor: Actor;
}

/** What a backup will contain, after the type's rules are applied to the request. */
export interface BackupPlan {
  type: BackupType;
  includesDatabase: boolean;
  includesFiles: boolean;
  includesConfig: boolean;
}

/**
 * The type a request without backup_type asks for, from its includes, as the real BaluHost
 * API does: database and files → full, one of them → database_only / files_only, the
 * config folder alone → config_only. An include left unset counts as true.
 */
function typeFromIncludes(input: CreateBackupInput): BackupType {
  const { includes_database: db, includes_files: files, includes_config: config } = input;
  // Unset includes default to true, as in the real API: only an explicit false leaves a part out.
  const wantsDb = db ?? true;
  const wantsFiles = files ?? true;
  if (wantsDb && wantsFiles) return "full";
  if (wantsDb) return "database_only";
  if (wantsFiles) return "files_only";
  if (config === true) return "config_only";
  throw new AppError("BAD_REQUEST", "Nothing to back up: set at least one of includes_database, includes_files or includes_config to true.");
}

/**
 * Applies the type's rules: database_only, files_only and config_only fix what they hold,
 * full and incremental hold database and files unless told otherwise. A request that
 * contradicts its type is refused, never silently "corrected".
 */
export function resolvePlan(input: CreateBackupInput): BackupPlan {
  const type = input.backup_type ?? typeFromIncludes(input);
  const wants = (value: boolean | undefined, fallback: boolean) => value ?? fallback;
  if (type === "database_only") {
    if (input.includes_files === true) {
      throw new AppError("BAD_REQUEST", "A database_only backup cannot include files: set includes_files to false or choose full.");
    }
    return { type, includesDatabase: true, includesFiles: false, includesConfig: wants(input.includes_config, false) };
  }
  if (type === "files_only") {
    if (input.includes_database === true) {
      throw new AppError("BAD_REQUEST", "A files_only backup cannot include the database: set includes_database to false or choose full.");
    }
    return { type, includesDatabase: false, includesFiles: true, includesConfig: wants(input.includes_config, false) };
  }
  if (type === "config_only") {
    if (input.includes_database === true || input.includes_files === true || input.includes_config === false) {
      throw new AppError(
        "BAD_REQUEST",
        "A config_only backup holds the config folder alone: leave includes_database and includes_files unset (or false) and includes_config true.",
      );
    }
    return { type, includesDatabase: false, includesFiles: false, includesConfig: true };
  }
  if (type === "incremental" && input.includes_files === false) {
    throw new AppError("BAD_REQUEST", "An incremental backup is a backup of changed files: includes_files cannot be false.");
  }
  const plan: BackupPlan = {
    type,
    includesDatabase: wants(input.includes_database, true),
    includesFiles: wants(input.includes_files, true),
    includesConfig: wants(input.includes_config, false),
  };
  if (type === "full" && (!plan.includesDatabase || !plan.includesFiles)) {
    throw new AppError(
      "BAD_REQUEST",
      "A full backup includes the database and the files: use database_only or files_only for one of them.",
    );
  }
  return plan;
}

/**
 * The backup an incremental builds on: the newest completed backup holding the complete
 * file list (full, files_only or incremental, with our manifest) whose archive is still on
 * disk and whose last verification did not fail (a damaged parent would make every later
 * incremental unrestorable), made under the encryption key in effect now (so restoring a
 * chain needs one key). None means the incremental starts as a full backup.
 */
function findIncrementalParent(db: AppDatabase, config: AppConfig, keyId: string | null): Backup | null {
  const candidates = db
    .select()
    .from(backups)
    .where(
      and(
        eq(backups.status, "completed"),
        eq(backups.includesFiles, true),
        eq(backups.fileList, true),
        inArray(backups.backupType, ["full", "files_only", "incremental"]),
      ),
    )
    .orderBy(desc(backups.createdAt), desc(backups.id))
    .all();
  const newest = candidates.find((row) => row.verifyStatus !== "failed" && fs.existsSync(archivePath(config, row))) ?? null;
  // Encryption switched on, off or to another key since: start a new chain (a full backup).
  return newest && (newest.encryptionKeyId ?? null) === keyId ? newest : null;
}

/** The live database's size on disk: the file and its write-ahead log. */
export function databaseBytes(file: string): number {
  let total = 0;
  for (const suffix of ["", "-wal"]) {
    try {
      total += fs.statSync(file + suffix).size;
    } catch {
      /* absent */
    }
  }
  return total;
}

export interface CreateBackupOptions extends BackupServiceContext {
  input: CreateBackupInput;
  origin?: BackupOrigin;
  /** Free space on the backup volume; injectable so tests can simulate a full disk. */
  freeSpace?: (dir: string) => Promise<number>;
  /**
   * The operation lock, when the caller already holds it (a restore taking its safety
   * backup). The backup then neither takes nor releases the lock, and skips retention, which
   * could otherwise delete the very backup being restored.
   */
  heldLock?: HeldLock;
  /** The backup plan a scheduled backup is made for (kept on the row with its name at the time). */
  scheduledBy?: { planId: number; planName: string };
}

/**
 * Starts a backup and returns its row at once (status in_progress), or after it finished
 * when `input.wait` is set. Refusals (bad input, another operation running, too little
 * space) throw before anything is written, and are audited.
 */
export async function createBackup(opts: CreateBackupOptions): Promise<Backup> {
  const { db, config, actor, input } = opts;
  let lock: HeldLock | undefined;
  let treePlan: TreePlan | undefined;
  if (!opts.heldLock) await startupRecoveryDone();
  try {
    const plan = resolvePlan(input);
    const archiveDir = await resolveBackupDestination(config, input.backup_path);
    if (!opts.heldLock) lock = acquireOperationLock(config.backupPath, "backup", `${plan.type} backup by ${actor.username}`);
    // Who it is encrypted to (null: not encrypted), settled before anything is written; an
    // incremental builds only on a backup made under the same key (one key per chain).
    const encryptTo = await encryptionTarget(db, config);
    const parent = plan.type === "incremental" ? findIncrementalParent(db, config, encryptTo?.keyId ?? null) : null;
    if (plan.type === "incremental" && !parent) plan.type = "full";

    const dataTrees: Array<{ name: "files" | "config"; root: string }> = [];
    if (plan.includesFiles) dataTrees.push({ name: "files", root: config.storagePath });
    if (plan.includesConfig) dataTrees.push({ name: "config", root: config.configPath });
    treePlan = await planTrees({
      workDir: config.backupPath,
      trees: dataTrees,
      parent: parent ? await streamManifest(config, parent) : null,
      excludeTopLevel: [RESTORE_WORK_DIR],
    });

    // Preflight: the archive can be as large as the data (media does not compress), plus the snapshot.
    const dbBytes = plan.includesDatabase ? databaseBytes(config.databasePath) : 0;
    const fileBytes = treePlan.bytes;
    const needed = Math.ceil((dbBytes * 2 + fileBytes) * 1.05) + 8 * 1024 * 1024;
    const available = await (opts.freeSpace ?? freeBytes)(path.join(config.backupPath, archiveDir));
    if (available < needed) {
      throw new AppError(
        "INSUFFICIENT_SPACE",
        `Not enough free space on the backup volume: this backup needs about ${formatBytes(needed)}, ` +
          `${formatBytes(available)} is free. Delete old backups or free space, then try again.`,
        { details: { needed_bytes: needed, available_bytes: available } },
      );
    }

    const now = new Date();
    const filename = uniqueArchiveName(db, config, now, archiveDir, encryptTo !== null);
    const row = db
      .insert(backups)
      .values({
        filename,
        filepath: archivePath(config, { filename, archiveDir }),
        archiveDir,
        backupType: plan.type,
        status: "in_progress",
        origin: opts.origin ?? "manual",
        createdAt: now,
        creatorId: actor.id,
        creatorName: actor.username,
        includesDatabase: plan.includesDatabase,
        includesFiles: plan.includesFiles,
        includesConfig: plan.includesConfig,
        parentId: parent?.id ?? null,
        planId: opts.scheduledBy?.planId ?? null,
        planName: opts.scheduledBy?.planName ?? null,
        ...encryptionColumns(encryptTo),
      })
      .returning()
      .get();

    const controller = new AbortController();
    const progress: BackupProgress = {
      phase: "preparing",
      filesDone: 0,
      filesTotal: treePlan.files + (plan.includesDatabase ? 1 : 0),
      bytesDone: 0,
      bytesTotal: fileBytes + dbBytes,
      startedAt: Date.now(),
    };
    const jobLock = lock ?? opts.heldLock!;
    lock = undefined; // the job owns it now
    const jobTrees = treePlan;
    treePlan = undefined; // and the planned file lists
    const done = runBackupJob({
      ...opts,
      row,
      plan,
      trees: jobTrees,
      parent,
      progress,
      signal: controller.signal,
      lock: jobLock,
      ownsLock: !opts.heldLock,
      encryptTo,
    });
    registerJob({ backupId: row.id, progress, controller, done });
    if (input.wait) await done;
    return getBackupRow(db, row.id);
  } catch (err) {
    await treePlan?.remove();
    lock?.release();
    recordAudit(db, {
      action: "backup.create",
      actor,
      success: false,
      errorMessage: describeError(err),
      details: { backup_type: input.backup_type },
    });
    throw err;
  }
}

/** Folder (at the top of a data tree) where a restore stages and sets aside data; never backed up. */
export const RESTORE_WORK_DIR = ".baluhost-restore";

interface JobOptions extends CreateBackupOptions {
  row: Backup;
  plan: BackupPlan;
  trees: TreePlan;
  parent: Backup | null;
  progress: BackupProgress;
  signal: AbortSignal;
  lock: HeldLock;
  ownsLock: boolean;
  encryptTo: (AgeTarget & { keyId: string }) | null;
}

/** Why a backup failed, as an error code and a text for the admin; internal details stay in the server log. */
function describeFailure(err: unknown, signal: AbortSignal): { code: AppErrorCode; message: string } {
  if (signal.aborted) return { code: "BACKUP_CANCELLED", message: typeof signal.reason === "string" ? signal.reason : "Cancelled." };
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === "ENOSPC") {
    return {
      code: "INSUFFICIENT_SPACE",
      message: "The backup volume ran out of space while writing the archive. Delete old backups or free space, then try again.",
    };
  }
  if (code === "EACCES" || code === "EPERM") {
    const file = (err as NodeJS.ErrnoException).path ?? "a file";
    return { code: "BACKUP_FAILED", message: `Permission denied: ${file} could not be read or written. Check the folder permissions.` };
  }
  if (err instanceof AppError) return { code: err.code, message: err.message };
  if (err instanceof Error && err.message) return { code: "BACKUP_FAILED", message: err.message };
  return { code: "BACKUP_FAILED", message: "The backup failed for an unknown reason. Check the server log." };
}

async function runBackupJob(job: JobOptions): Promise<void> {
  const { db, config, actor, row, plan, progress, signal } = job;
  const tmp = partialPath(config, row);
  const staging = stagingPath(config, row.id);
  try {
    let database: { snapshotPath: string } | undefined;
    if (plan.includesDatabase) {
      progress.phase = "snapshot";
      await fs.promises.mkdir(staging, { recursive: true });
      const snapshotPath = path.join(staging, "baluhost.db");
      await snapshotDatabase(db.$client, snapshotPath);
      database = { snapshotPath };
    }
    signal.throwIfAborted();
    progress.phase = "archiving";
    const meta: Omit<BackupManifest, "entries" | "totals"> = {
      format: MANIFEST_FORMAT,
      format_version: MANIFEST_FORMAT_VERSION,
      app_version: appVersion(),
      migration_level: appliedMigrationLevel(db.$client),
      backup_type: plan.type,
      parent: job.parent ? { id: job.parent.id, filename: job.parent.filename } : null,
      created_at: row.createdAt.toISOString(),
      includes: { database: plan.includesDatabase, files: plan.includesFiles, config: plan.includesConfig },
    };
    const manifestCopy = manifestCopyPath(config, row.filename);
    await fs.promises.mkdir(path.dirname(manifestCopy), { recursive: true });
    const written = await writeBackupArchive({
      outputPath: tmp,
      database,
      trees: job.trees.trees.map((t) => ({ name: t.name, root: t.root, entries: plannedEntries(t) })),
      meta,
      expected: { files: job.trees.files, bytes: job.trees.bytes },
      manifestCopyPath: manifestCopy + PARTIAL_SUFFIX,
      seekIndexPath: seekIndexPath(config, row.filename) + PARTIAL_SUFFIX,
      signal,
      onProgress: (p) => Object.assign(progress, p),
      encryptTo: job.encryptTo ?? undefined,
    });
    signal.throwIfAborted();
    progress.phase = "finalizing";
    await durableRename(manifestCopy + PARTIAL_SUFFIX, manifestCopy);
    await durableRename(seekIndexPath(config, row.filename) + PARTIAL_SUFFIX, seekIndexPath(config, row.filename));
    await linkIntoPlace(tmp, archivePath(config, row));
    db.update(backups)
      .set({
        status: "completed",
        completedAt: new Date(),
        sizeBytes: written.sizeBytes,
        sha256: written.sha256,
        fileCount: written.manifest.totals.files,
      })
      .where(eq(backups.id, row.id))
      .run();
    progress.phase = "done";
    recordAudit(db, {
      action: "backup.create",
      actor,
      resource: `backup:${row.id}`,
      success: true,
      details: {
        filename: row.filename,
        backup_type: plan.type,
        encryption: row.encryption,
        size_bytes: written.sizeBytes,
        files: written.manifest.totals.files,
        archived_files: written.manifest.totals.archived_files,
        parent_id: job.parent?.id ?? null,
        // Left out: special files, files deleted meanwhile, links pointing outside the tree.
        skipped: written.skipped.length ? written.skipped.slice(0, 50) : undefined,
        skipped_count: written.skippedCount || undefined,
      },
    });
  } catch (err) {
    const { code, message } = describeFailure(err, signal);
    if (!signal.aborted && !(err instanceof AppError)) console.error(`[backup] backup ${row.id} failed:`, err);
    await removeBackupFiles(config, row).catch(() => undefined);
    try {
      db.update(backups).set({ status: "failed", completedAt: new Date(), errorMessage: message, errorCode: code }).where(eq(backups.id, row.id)).run();
    } catch (dbErr) {
      console.error(`[backup] could not mark backup ${row.id} failed:`, dbErr);
    }
    recordAudit(db, {
      action: signal.aborted ? "backup.cancel" : "backup.create",
      actor,
      resource: `backup:${row.id}`,
      success: false,
      errorMessage: message,
      details: { filename: row.filename, backup_type: plan.type },
    });
    // A cancel is the admin's own doing; a failure may happen unattended (a script, a plan).
    if (!signal.aborted) announceBackupFailure(db, row, message, row.planName);
  } finally {
    await fs.promises.rm(staging, { recursive: true, force: true }).catch(() => undefined);
    await fs.promises.rm(manifestCopyPath(config, row.filename) + PARTIAL_SUFFIX, { force: true }).catch(() => undefined);
    await fs.promises.rm(seekIndexPath(config, row.filename) + PARTIAL_SUFFIX, { force: true }).catch(() => undefined);
    await job.trees.remove();
    unregisterJob(row.id);
  }
  if (!job.ownsLock) return;
  try {
    // Still under the lock: nothing else can be writing, so stray files may be swept.
    if (getBackupRow(db, row.id).status === "completed") await applyRetention({ db, config, sweep: true });
  } catch (err) {
    console.error("[backup] retention after backup failed:", err);
  } finally {
    job.lock.release();
  }
}

function announceBackupFailure(db: AppDatabase, row: Backup, message: string, planName: string | null): void {
  announce(db, {
    event: "backup_failed",
    severity: "critical",
    title: planName ? `Scheduled backup "${planName}" failed` : "Backup failed",
    message: `The ${row.backupType.replace("_", " ")} backup ${row.filename} failed: ${message}`,
    action: "Open Settings → Backup to see the error, fix its cause, then run the backup again.",
    backupId: row.id,
    planName,
  });
}

export function progressOf(backupId: number): BackupProgress | null {
  return getJob(backupId)?.progress ?? null;
}

/**
 * A row left in_progress although nothing runs it (no job in this process, no live lock in
 * any): its job died without recording the end (the database refused both updates). It is
 * marked interrupted here rather than only at the next start.
 */
function reconcileOrphans(db: AppDatabase, config: AppConfig, rows: Backup[]): Backup[] {
  const orphans = rows.filter((r) => r.status === "in_progress" && !getJob(r.id));
  if (!orphans.length || readLiveLock(config.backupPath)) return rows;
  for (const row of orphans) {
    db.update(backups).set({ status: "failed", completedAt: new Date(), errorMessage: INTERRUPTED_MESSAGE, errorCode: "BACKUP_FAILED" }).where(eq(backups.id, row.id)).run();
  }
  return listBackupRows(db);
}

export function listBackups(db: AppDatabase, config?: AppConfig): BackupList {
  const rows = config ? reconcileOrphans(db, config, listBackupRows(db)) : listBackupRows(db);
  const total = rows.filter((r) => r.status === "completed").reduce((sum, r) => sum + r.sizeBytes, 0);
  return {
    backups: rows.map((r) => toBackupRecord(r, progressOf(r.id))),
    total_size_bytes: total,
    total_size_mb: toMb(total),
  };
}

export function getBackup(db: AppDatabase, id: number): BackupRecord {
  const row = getBackupRow(db, id);
  return toBackupRecord(row, progressOf(row.id));
}

/** Resolves when a running backup in this process has finished (at once otherwise). */
export async function waitForBackup(backupId: number): Promise<void> {
  await getJob(backupId)?.done;
}

export function cancelBackup(opts: BackupServiceContext & { id: number }): BackupRecord {
  const { db, actor, id } = opts;
  const row = getBackupRow(db, id);
  if (row.status !== "in_progress") {
    throw new AppError("CONFLICT", `${row.filename} is not running (it is ${row.status.replace("_", " ")}); there is nothing to cancel.`);
  }
  const job = getJob(id);
  if (!job) {
    throw new AppError(
      "CONFLICT",
      `${row.filename} is being made by another process (such as the command line); cancel it there.`,
    );
  }
  job.controller.abort(`Cancelled by ${actor.username}.`);
  return toBackupRecord(row, job.progress);
}

export async function deleteBackup(opts: BackupServiceContext & { id: number }): Promise<void> {
  const { db, config, actor, id } = opts;
  let lock: HeldLock | undefined;
  await startupRecoveryDone();
  try {
    const row = getBackupRow(db, id);
    if (row.status === "in_progress") {
      throw new AppError("CONFLICT", `${row.filename} is still being made. Cancel it first, or wait for it to finish.`);
    }
    // Under the lock: a starting incremental may have chosen this backup as its parent before
    // its own row exists, and a restore may be reading it.
    lock = acquireOperationLock(config.backupPath, "maintenance", `deleting ${row.filename}`);
    const dependents = dependentsOf(db, id);
    if (dependents.length) {
      throw new AppError(
        "CONFLICT",
        `${row.filename} is the base of the incremental backup${dependents.length > 1 ? "s" : ""} ` +
          `${dependents.map((d) => d.filename).join(", ")}, which cannot be restored without it. Delete ${dependents.length > 1 ? "those" : "that one"} first.`,
      );
    }
    // Row first: a crash in between leaves an archive without a row, never a row without an archive.
    db.delete(backups).where(eq(backups.id, id)).run();
    await removeBackupFiles(config, row);
    recordAudit(db, {
      action: "backup.delete",
      actor,
      resource: `backup:${id}`,
      success: true,
      details: { filename: row.filename, size_bytes: row.sizeBytes },
    });
  } catch (err) {
    recordAudit(db, { action: "backup.delete", actor, resource: `backup:${id}`, success: false, errorMessage: describeError(err) });
    throw err;
  } finally {
    lock?.release();
  }
}

export interface DownloadableBackup {
  path: string;
  filename: string;
  size: number;
  mtime: Date;
  /** Strong validator: the archive's SHA-256 (or, for old rows, size and mtime). */
  etag: string;
}

/** The archive of a completed backup, ready to stream. */
export async function openBackupDownload(opts: { db: AppDatabase; config: AppConfig; id: number }): Promise<DownloadableBackup> {
  const row = getBackupRow(opts.db, opts.id);
  if (row.status !== "completed") {
    throw new AppError("CONFLICT", `${row.filename} is ${row.status.replace("_", " ")}; only completed backups can be downloaded.`);
  }
  const file = archivePath(opts.config, row);
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(file);
  } catch {
    throw new AppError(
      "BACKUP_NOT_FOUND",
      `The archive ${row.filename} is missing from the backup folder. It may have been removed by hand.`,
    );
  }
  const etag = row.sha256 ? `"${row.sha256}"` : `"${stat.size.toString(16)}-${Math.trunc(stat.mtimeMs).toString(16)}"`;
  return { path: file, filename: row.filename, size: stat.size, mtime: stat.mtime, etag };
}

/** Pins a backup so retention never removes it, or unpins it. */
export function setBackupProtected(opts: { db: AppDatabase; actor: Actor; id: number; protect: boolean }): BackupRecord {
  const { db, actor, id, protect } = opts;
  const row = getBackupRow(db, id);
  if (protect && row.status !== "completed") {
    throw new AppError("CONFLICT", `${row.filename} is ${row.status.replace("_", " ")}; only completed backups can be protected.`);
  }
  const updated = db.update(backups).set({ isProtected: protect }).where(eq(backups.id, id)).returning().get();
  recordAudit(db, {
    action: protect ? "backup.protect" : "backup.unprotect",
    actor,
    resource: `backup:${id}`,
    success: true,
    details: { filename: row.filename },
  });
  return toBackupRecord(updated, progressOf(id));
}
