/**
 * Restore drills: proof that a backup really restores, made without touching live data.
 *
 *   1. choose   the backup (given, or the newest completed and undamaged one, of a plan when
 *               one is named), take the operation lock, check the free space
 *   2. record   a `running` row in restore_drills (the UI follows it)
 *   3. restore  the backup's whole chain into a sandbox with the restore engine's own staging
 *               (restore.ts stageChain: the hardened extractor, sizes and SHA-256 checked
 *               against the manifests as the bodies stream past)
 *   4. check    independently: every restored entry read back and compared with the catalog's
 *               manifest (contents.ts); the database opened, `PRAGMA integrity_check`, its
 *               schema level compared with this version's and this version's migrations
 *               applied to the restored copy (restore.ts finishStagedDatabase)
 *   5. finish   the row `passed` or `failed` with each check, time to restore, counts; audited
 *               as backup.drill; a failure is announced (drill_failed)
 *
 * Invariants:
 * - Live data is never written: the sandbox is `<storage>/.baluhost-restore/drill-<uuid>/`, on
 *   the volume of the data, inside the restore work folder that backups leave out. A restore
 *   never stages under a `drill-` name, so a leftover sandbox is never taken for restored data.
 * - The sandbox is removed when the drill ends, passed or failed. One left by a drill killed
 *   with kill -9 goes at the next start-up (journal.ts recoverRestore sweeps the work folder
 *   when no live process holds the lock), or at the next drill, under the lock; its `running`
 *   row is marked interrupted when read with no live lock, or by the next drill.
 * - Under the operation lock ("maintenance"), so a drill never runs beside a backup, a restore
 *   or another drill. Refusals (lock held, too little space, nothing to drill) throw before
 *   anything is written.
 * - A drill marks a backup damaged (verify_status failed, as verifyBackup does) only when its
 *   archive is missing or unreadable or a hash disagrees: then it must not be a parent for
 *   incrementals. A database that fails its own checks fails the drill but is not "damaged".
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { and, desc, eq, isNull, ne, or } from "drizzle-orm";
import { appliedMigrationLevel, shippedMigrationLevel, type AppDatabase } from "@/db/client";
import { backupPlans, backups, restoreDrills, type Backup, type RestoreDrill } from "@/db/schema";
import { formatBytes, pluralize } from "@/lib/format";
import { recordAudit, type Actor } from "../../audit";
import type { AppConfig } from "../../config";
import { AppError, describeError } from "../../errors";
import { getBackupRow, streamManifest } from "../catalog";
import { crashPoint } from "../failpoints";
import { freeBytes } from "../fs-safe";
import { acquireOperationLock, readLiveLock, type HeldLock } from "../lock";
import { announce } from "../notify/announce";
import { startupRecoveryDone } from "../recovery";
import { ArchiveInvalidError } from "../restore/extract";
import { WORK_DIR } from "../restore/journal";
import type { RestoreProgress } from "../restore/progress";
import { finishStagedDatabase, isRequestedPart, resolveChain, stageChain, stagedBytes, type RestoreParts, type Staging } from "../restore/restore";
import { compareWithManifest, countWithoutManifest, type ContentsResult, type SandboxParts } from "./contents";

export type DrillCheck = NonNullable<RestoreDrill["checks"]>[number];

/** The checks a drill records, in the order they run. */
export const DRILL_CHECKS = {
  archive: "Archive readable, hashes match",
  contents: "Restored files match the manifest",
  database_integrity: "Database opens, integrity check ok",
  migrations: "Database migrates to this version",
} as const;
export type DrillCheckName = keyof typeof DRILL_CHECKS;

export const DRILL_INTERRUPTED_MESSAGE =
  "Interrupted: the process running this drill stopped before it finished (crash, restart or kill). Its sandbox was removed; run the drill again.";

/** Sandbox folders start with this, inside the restore work folder of the storage. */
export const DRILL_SANDBOX_PREFIX = "drill-";

export interface RunDrillOptions {
  db: AppDatabase;
  config: AppConfig;
  actor: Actor;
  /** The backup to drill; default the newest completed, undamaged one (of the plan, with planId). */
  backupId?: number;
  /** The backup plan this drill is for (the scheduler's); recorded on the row. */
  planId?: number;
  /** The clock (tests inject one): start, end and the time to restore come from it. */
  now?: () => Date;
  /** Free space of a folder's volume; injectable so tests can simulate a full disk. */
  freeSpace?: (dir: string) => Promise<number>;
  /** false: answer with the `running` row as soon as the drill has started. Default: when it has finished. */
  wait?: boolean;
}

/** What the UI shows while a drill runs in this process; the restore engine's staging moves it on. */
export interface DrillProgress extends RestoreProgress {
  drillId: number;
}

/** Drills running in this process, on globalThis: one registry per process whatever bundles this module. */
const holder = globalThis as unknown as { __baluhostDrills?: Map<number, { progress: DrillProgress; done: Promise<unknown> }> };
const running = (holder.__baluhostDrills ??= new Map());

/** Progress of a drill running in this process; null when it has finished or runs elsewhere. */
export function drillProgress(drillId: number): DrillProgress | null {
  return running.get(drillId)?.progress ?? null;
}

/** Resolves when a drill running in this process has finished (at once otherwise). */
export async function waitForDrill(drillId: number): Promise<void> {
  await running.get(drillId)?.done.catch(() => undefined);
}

/** A drill's failure: which check, what it found, and whether the archive itself is bad. */
class CheckFailed extends Error {
  constructor(
    readonly check: DrillCheckName,
    message: string,
    readonly damaged: boolean,
    /** The archive of the chain that failed, when it is not the drilled backup's own. */
    readonly archive?: string,
  ) {
    super(message);
  }
}

function archiveFailure(err: unknown): CheckFailed {
  const archive = err instanceof ArchiveInvalidError ? (err.details?.archive as string | undefined) : undefined;
  return new CheckFailed("archive", describeError(err), isArchiveProblem(err), archive);
}

export function drillSandboxParent(config: AppConfig): string {
  return path.join(config.storagePath, WORK_DIR);
}

/** The backup a drill without backupId tests: the newest completed one that is not damaged. */
function chooseBackup(db: AppDatabase, opts: Pick<RunDrillOptions, "backupId" | "planId">): Backup {
  if (opts.backupId !== undefined) {
    const row = getBackupRow(db, opts.backupId);
    if (row.status !== "completed") {
      throw new AppError("CONFLICT", `${row.filename} is ${row.status.replace("_", " ")}; only completed backups can be drilled.`);
    }
    return row;
  }
  const plan = opts.planId === undefined ? null : db.select().from(backupPlans).where(eq(backupPlans.id, opts.planId)).get();
  if (opts.planId !== undefined && !plan) throw new AppError("NOT_FOUND", `Backup plan ${opts.planId} does not exist.`);
  const row = db
    .select()
    .from(backups)
    .where(
      and(
        eq(backups.status, "completed"),
        or(isNull(backups.verifyStatus), ne(backups.verifyStatus, "failed")),
        plan ? eq(backups.planId, plan.id) : undefined,
      ),
    )
    .orderBy(desc(backups.createdAt), desc(backups.id))
    .limit(1)
    .get();
  if (row) return row;
  throw new AppError(
    "BACKUP_NOT_FOUND",
    plan
      ? `The plan "${plan.name}" has no completed, undamaged backup yet, so there is nothing to drill. Its drill runs once the plan has made a backup.`
      : "There is no completed, undamaged backup to drill yet. Create a backup first, then run the drill.",
  );
}

/** What a drill restores: every part the backup holds, except a database this app cannot use. */
function drillParts(row: Backup): RestoreParts {
  return { database: row.includesDatabase && !row.foreignDatabase, files: row.includesFiles, config: row.includesConfig };
}

/** Refuses to start without room for the sandbox copy on the data volume (as a restore's staging). */
async function checkSpace(opts: RunDrillOptions, target: Backup, staged: number): Promise<number> {
  const free = await (opts.freeSpace ?? freeBytes)(opts.config.storagePath);
  const needed = Math.ceil(staged * 1.05) + 16 * 1024 * 1024;
  if (free < needed) {
    throw new AppError(
      "INSUFFICIENT_SPACE",
      `Not enough free space for a restore drill of ${target.filename} on the volume of ${opts.config.storagePath}: about ${formatBytes(needed)} ` +
        `needed for the sandbox copy, ${formatBytes(free)} free. Free space or delete old backups, then run the drill again; nothing was written.`,
      { details: { needed_bytes: needed, available_bytes: free } },
    );
  }
  return free;
}

/** Removes sandboxes of drills that died (only called under the lock: no live drill owns one). */
function removeDeadSandboxes(config: AppConfig): void {
  const parent = drillSandboxParent(config);
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) if (name.startsWith(DRILL_SANDBOX_PREFIX)) fs.rmSync(path.join(parent, name), { recursive: true, force: true });
  removeIfEmpty(parent);
}

function removeIfEmpty(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    /* not empty (a restore's leftovers, swept by start-up) or already gone */
  }
}

/** `running` rows nobody runs any more become failed ("interrupted"); the condition on status keeps a drill that just finished. */
function markInterrupted(db: AppDatabase, ids: number[], now: Date): void {
  for (const id of ids) {
    db.update(restoreDrills)
      .set({ status: "failed", finishedAt: now, errorMessage: DRILL_INTERRUPTED_MESSAGE })
      .where(and(eq(restoreDrills.id, id), eq(restoreDrills.status, "running")))
      .run();
  }
}

/**
 * A drill row left `running` although no process runs it: with no live lock in any process
 * (a running drill holds it until its row is final), it was interrupted.
 */
function reconcileInterrupted(db: AppDatabase, config: AppConfig | undefined, rows: RestoreDrill[]): boolean {
  const orphans = rows.filter((r) => r.status === "running" && !running.has(r.id));
  if (!config || orphans.length === 0 || readLiveLock(config.backupPath)) return false;
  markInterrupted(
    db,
    orphans.map((r) => r.id),
    new Date(),
  );
  return true;
}

/** Recent drills, newest first; with `config`, rows of drills whose process died read as interrupted. */
export function listDrills(db: AppDatabase, opts: { limit?: number; config?: AppConfig } = {}): RestoreDrill[] {
  const limit = Math.min(Math.max(opts.limit ?? 20, 1), 200);
  const read = () => db.select().from(restoreDrills).orderBy(desc(restoreDrills.startedAt), desc(restoreDrills.id)).limit(limit).all();
  const rows = read();
  return reconcileInterrupted(db, opts.config, rows) ? read() : rows;
}

/** The newest drill, or null before the first. */
export function lastDrill(db: AppDatabase, opts: { config?: AppConfig } = {}): RestoreDrill | null {
  return listDrills(db, { limit: 1, config: opts.config })[0] ?? null;
}

/**
 * Runs a restore drill (see the module comment). Resolves with the finished row, or with
 * `wait: false` with the running row once the drill has started; a drill that runs and
 * fails resolves too (status failed). Throws only refusals, before anything is written.
 */
export async function runRestoreDrill(opts: RunDrillOptions): Promise<RestoreDrill> {
  const { db, config, actor } = opts;
  const now = opts.now ?? (() => new Date());
  let lock: HeldLock | undefined;
  let target: Backup | undefined;
  try {
    target = chooseBackup(db, opts);
    await startupRecoveryDone();
    lock = acquireOperationLock(config.backupPath, "maintenance", `restore drill of ${target.filename}`);
    // Under the lock nothing else runs: what a dead drill left behind can go.
    removeDeadSandboxes(config);
    markInterrupted(
      db,
      db.select({ id: restoreDrills.id }).from(restoreDrills).where(eq(restoreDrills.status, "running")).all().map((r) => r.id),
      now(),
    );
    let chain: Backup[] | null = null;
    let chainError: unknown = null;
    try {
      chain = resolveChain(db, config, target);
    } catch (err) {
      chainError = err; // a broken chain is the drill's finding, recorded like any failed check
    }
    const staged = chain ? await stagedBytes(config, chain, target) : 0;
    const freeForSandbox = await checkSpace(opts, target, staged);

    const startedAt = now();
    const row = db
      .insert(restoreDrills)
      .values({
        backupId: target.id,
        backupFilename: target.filename,
        planId: opts.planId ?? null,
        actorName: actor.username,
        status: "running",
        startedAt,
        checks: [],
      })
      .returning()
      .get();
    const progress: DrillProgress = { drillId: row.id, backupId: target.id, step: "starting", filesDone: 0, bytesDone: 0, bytesTotal: staged, startedAt: startedAt.getTime() };
    const jobLock = lock;
    lock = undefined; // the job owns it now
    const job = runDrill({ ...opts, now, row, target, chain, chainError, progress, maxTotalBytes: freeForSandbox }).finally(() => {
      running.delete(row.id);
      jobLock.release();
    });
    running.set(row.id, { progress, done: job });
    if (opts.wait === false) {
      job.catch((err: unknown) => console.error(`[drill] drill ${row.id} could not be recorded:`, err));
      return row;
    }
    return await job;
  } catch (err) {
    lock?.release();
    recordAudit(db, {
      action: "backup.drill",
      actor,
      resource: target ? `backup:${target.id}` : null,
      success: false,
      errorMessage: describeError(err),
      details: { filename: target?.filename ?? null, refused: true },
    });
    throw err;
  }
}

interface DrillJob extends RunDrillOptions {
  now: () => Date;
  row: RestoreDrill;
  target: Backup;
  chain: Backup[] | null;
  chainError: unknown;
  progress: DrillProgress;
  maxTotalBytes: number;
}

/** Steps 3 to 5 of the module comment. Never throws for a failed check: the row records it. */
async function runDrill(job: DrillJob): Promise<RestoreDrill> {
  const { db, config, target, progress } = job;
  const parts = drillParts(target);
  const checks: DrillCheck[] = [];
  const sandbox = path.join(drillSandboxParent(config), `${DRILL_SANDBOX_PREFIX}${crypto.randomUUID()}`);
  let failure: CheckFailed | null = null;
  let contents: ContentsResult | null = null;
  let finishedAt: Date;
  try {
    contents = await restoreAndCheck({ ...job, parts, sandbox, checks });
    crashPoint("drill:checked");
  } catch (err) {
    failure = err instanceof CheckFailed ? err : new CheckFailed("archive", unexpected(err), false);
    checks.push({ name: failure.check, ok: false, detail: failure.message });
  } finally {
    finishedAt = job.now();
    progress.step = "removing the sandbox";
    await fs.promises.rm(sandbox, { recursive: true, force: true }).catch((err: unknown) => console.error(`[drill] removing ${sandbox} failed; the next start removes it:`, err));
    removeIfEmpty(drillSandboxParent(config));
  }
  const durationMs = Math.max(0, finishedAt.getTime() - job.row.startedAt.getTime());
  if (failure?.damaged) markDamaged(db, job, failure);
  const finished = db
    .update(restoreDrills)
    .set({
      status: failure ? "failed" : "passed",
      finishedAt,
      durationMs,
      fileCount: contents?.files ?? null,
      bytes: contents?.bytes ?? null,
      errorMessage: failure ? `${DRILL_CHECKS[failure.check]}: ${failure.message}` : null,
      checks,
    })
    .where(eq(restoreDrills.id, job.row.id))
    .returning()
    .get();
  recordAudit(db, {
    action: "backup.drill",
    actor: job.actor,
    resource: `backup:${target.id}`,
    success: failure === null,
    errorMessage: finished.errorMessage,
    details: {
      drill_id: finished.id,
      filename: target.filename,
      duration_ms: durationMs,
      file_count: finished.fileCount,
      bytes: finished.bytes,
      failed_check: failure?.check ?? null,
      marked_damaged: failure?.damaged ?? false,
    },
  });
  if (failure) announceFailure(db, job, failure);
  return finished;
}

/** Stages the backup into the sandbox and runs every check; the first failing check throws CheckFailed. */
async function restoreAndCheck(ctx: DrillJob & { parts: RestoreParts; sandbox: string; checks: DrillCheck[] }): Promise<ContentsResult> {
  const { config, target, parts, sandbox, checks, progress } = ctx;
  if (ctx.chainError || !ctx.chain) throw archiveFailure(ctx.chainError);
  const chain = ctx.chain;
  await fs.promises.mkdir(sandbox, { recursive: true, mode: 0o700 });
  const dirs: SandboxParts = {};
  for (const part of ["database", "files", "config"] as const) {
    if (!parts[part]) continue;
    dirs[part] = path.join(sandbox, part);
    await fs.promises.mkdir(dirs[part], { recursive: true });
  }
  const staging: Staging = { ...dirs, workDirs: [sandbox] };

  // 3. The restore engine's own staging: the extractor checks every body against the manifests.
  let manifestFound: boolean;
  try {
    const { manifest } = await stageChain({ config, chain, target, parts, staging, progress, maxTotalBytes: ctx.maxTotalBytes });
    manifestFound = manifest !== null;
  } catch (err) {
    if (err instanceof AppError && err.code === "INCOMPATIBLE_VERSION") throw new CheckFailed("migrations", err.message, false);
    throw archiveFailure(err);
  }
  const archives = pluralize(chain.length, "archive");
  checks.push({
    name: "archive",
    ok: true,
    detail: manifestFound
      ? `${archives} read to the end${chain.length > 1 ? ` (the chain of ${target.filename})` : ""}: gzip, tar headers, every entry's name, type and size, and the SHA-256 of every file matched the manifest.`
      : "Read to the end: gzip CRC and length of every member, tar structure and header checksums, every entry's name, type and size. " +
        "The archive has no manifest, so it holds no per-file hashes to check.",
  });
  crashPoint("drill:staged");

  // 4a. Independent: read every restored entry back and compare it with the catalog's manifest.
  progress.step = "comparing the restored files with the manifest";
  progress.bytesDone = 0;
  let contents: ContentsResult;
  if (manifestFound) {
    const manifest = await streamManifest(config, target);
    progress.bytesTotal = manifest.head.totals.bytes;
    contents = await compareWithManifest({
      sandbox: dirs,
      manifest,
      restored: (p) => isRequestedPart(p, parts),
      onHashed: (bytes) => (progress.bytesDone += bytes),
    });
  } else {
    contents = await countWithoutManifest(dirs, target.fileCount);
  }
  if (!contents.ok) throw new CheckFailed("contents", contents.detail, true);
  checks.push({ name: "contents", ok: true, detail: contents.detail });

  // 4b. The database: integrity, then this version's migrations on the restored copy.
  if (dirs.database) {
    progress.step = "checking the database";
    checkDatabase(dirs.database, target.filename, checks);
  } else if (target.includesDatabase) {
    checks.push({
      name: "database_integrity",
      ok: true,
      detail: "Not restored: the archive's database belongs to another application and is never put in place here (restore files and config only).",
    });
  }
  return contents;
}

/** Integrity and migration checks of the restored database, recorded separately. */
function checkDatabase(dir: string, filename: string, checks: DrillCheck[]): void {
  const level = schemaLevelOf(path.join(dir, "baluhost.db"));
  const ours = shippedMigrationLevel();
  try {
    finishStagedDatabase(dir, filename);
  } catch (err) {
    // finishStagedDatabase checks integrity first: a refused schema means the integrity check passed.
    if (err instanceof AppError && err.code === "INCOMPATIBLE_VERSION") {
      checks.push({ name: "database_integrity", ok: true, detail: "The database opens; PRAGMA integrity_check: ok." });
      throw new CheckFailed("migrations", err.message, false);
    }
    throw new CheckFailed("database_integrity", describeError(err), false);
  }
  checks.push({ name: "database_integrity", ok: true, detail: "The database opens; PRAGMA integrity_check: ok." });
  checks.push({
    name: "migrations",
    ok: true,
    detail: `Schema level ${level ?? "unknown"} (this version: ${ours}); this version's migrations applied to the restored copy.`,
  });
}

function schemaLevelOf(file: string): number | null {
  try {
    const sqlite = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return appliedMigrationLevel(sqlite);
    } finally {
      sqlite.close();
    }
  } catch {
    return null; // the integrity check says why it cannot be opened
  }
}

/** Whether a failure is the archive's own: missing, unreadable, corrupt or a hash that disagrees. */
function isArchiveProblem(err: unknown): boolean {
  if (err instanceof ArchiveInvalidError) return err.problem !== "limit" && err.problem !== "version";
  return err instanceof AppError && (err.code === "ARCHIVE_INVALID" || err.code === "BACKUP_NOT_FOUND");
}

function unexpected(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === "ENOSPC") return "The data volume ran out of space while the backup was restored into the sandbox. Free space, then run the drill again.";
  console.error("[drill] unexpected failure:", err);
  return `The restore into the sandbox failed: ${describeError(err)}`;
}

/** As verifyBackup does: a backup whose archive failed is damaged, and never a parent for incrementals. */
function markDamaged(db: AppDatabase, job: DrillJob, failure: CheckFailed): void {
  const named = failure.archive ? job.chain?.find((b) => b.id !== job.target.id && b.filename === failure.archive) : undefined;
  const problem = failure.message;
  const at = job.now();
  for (const row of [job.target, named].filter((b): b is Backup => Boolean(b))) {
    db.update(backups)
      .set({ verifiedAt: at, verifyStatus: "failed", verifyError: `Restore drill: ${problem}` })
      .where(eq(backups.id, row.id))
      .run();
  }
}

function announceFailure(db: AppDatabase, job: DrillJob, failure: CheckFailed): void {
  const plan = job.planId === undefined ? null : db.select({ name: backupPlans.name }).from(backupPlans).where(eq(backupPlans.id, job.planId)).get();
  announce(db, {
    event: "drill_failed",
    severity: "critical",
    title: plan ? `Restore drill of plan "${plan.name}" failed` : "Restore drill failed",
    message: `The restore drill of ${job.target.filename} failed the check "${DRILL_CHECKS[failure.check]}": ${failure.message}`,
    action: failure.damaged
      ? "Do not rely on this backup: make a new full backup now and check the disk that holds the backups (Settings → Backup marks it damaged)."
      : "Make a new full backup now, check the disk and the server log, then run the drill again (Settings → Backup).",
    backupId: job.target.id,
    planName: plan?.name ?? null,
    details: { drill_id: job.row.id, check: failure.check, marked_damaged: failure.damaged },
  });
}
