/**
 * The restore journal and the swap it drives. A restore first stages everything it will
 * put in place (verified, complete) beside the live data on the same volume, and only
 * then writes the journal. From that moment the restore is committed: the swap is a
 * sequence of renames, each phase recorded in the journal, and every phase can be run
 * again from the start. A process killed at any point is finished at the next start-up
 * (rolled forward), so the app only ever runs on the old state (no journal yet) or on the
 * new one, complete. Without a journal, leftovers of staging are simply removed.
 *
 * A tree is swapped one of two ways. A backup with a list of every file replaces the tree: all
 * old entries go aside, all staged ones come in. One without (file_list false: the real
 * BaluHost's archives) is merged: the staged tree holds only the archive's files, and each
 * staged entry replaces the live entry of the same path (which goes aside) or is added, while
 * every live entry the archive does not name stays. Both are sequences of renames that can be
 * replayed: a staged entry still in staging has not been moved in yet.
 *
 * Everything here is synchronous on purpose: the swap runs in one turn of the event loop,
 * so no request of this process can see the database closed or a half-moved tree.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { AppConfig } from "../../config";
import { crashPoint } from "../failpoints";
import { acquireOperationLock, readLiveLock, type HeldLock } from "../lock";

export const WORK_DIR = ".baluhost-restore";
const JOURNAL_NAME = ".restore-journal.json";

/** Phases in order; a journal's phase says what has been completed. */
export const PHASES = ["prepared", "database", "files", "config", "merged"] as const;
export type Phase = (typeof PHASES)[number];

export interface TreeSwap {
  root: string;
  /** The new tree, staged in `<root>/.baluhost-restore/new`. */
  staged: string;
  /** Where the old entries go, `<root>/.baluhost-restore/old`. */
  aside: string;
  /** Set once every old entry has been moved aside (so a replay never moves new entries aside). */
  asideDone?: boolean;
  /** Add and replace the staged entries, keep every other live one (an archive without a file list). */
  merge?: boolean;
}

export interface RestoreJournal {
  version: 1;
  restoreId: string;
  backupId: number;
  backupFilename: string;
  phase: Phase;
  actor: { id: number | null; username: string; ip?: string | null; userAgent?: string | null };
  startedAt: string;
  safetyBackupId: number | null;
  database?: { live: string; staged: string; aside: string };
  files?: TreeSwap;
  config?: TreeSwap;
  /** Work folders (staging and set-aside data) removed once the swap is complete. */
  workDirs: string[];
}

export function journalPath(config: AppConfig): string {
  return path.join(path.dirname(config.databasePath), JOURNAL_NAME);
}

export function readJournal(config: AppConfig): RestoreJournal | null {
  try {
    return JSON.parse(fs.readFileSync(journalPath(config), "utf8")) as RestoreJournal;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

function fsyncDirSync(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function writeJournal(config: AppConfig, journal: RestoreJournal): void {
  const file = journalPath(config);
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, "w", 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(journal, null, 2));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  fsyncDirSync(path.dirname(file));
}

function advance(config: AppConfig, journal: RestoreJournal, phase: Phase): void {
  journal.phase = phase;
  writeJournal(config, journal);
  crashPoint(`restore:after-${phase}`);
}

const done = (journal: RestoreJournal, phase: Phase) => PHASES.indexOf(journal.phase) >= PHASES.indexOf(phase);

function exists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Puts the staged database in place; the old one (and any -wal/-shm of it) goes aside. */
function swapDatabase(db: NonNullable<RestoreJournal["database"]>): void {
  if (!exists(db.staged)) return; // already moved in by an earlier run
  for (const suffix of ["", "-wal", "-shm"]) {
    if (!exists(db.live + suffix)) continue;
    // An aside copy is the real pre-restore database: never overwrite it. A live file that
    // appeared after it was moved aside (an empty database opened meanwhile) is kept apart.
    if (exists(db.aside + suffix)) fs.renameSync(db.live + suffix, `${db.aside}${suffix}.stray`);
    else fs.renameSync(db.live + suffix, db.aside + suffix);
  }
  crashPoint("restore:database-aside");
  fs.renameSync(db.staged, db.live);
  fsyncDirSync(path.dirname(db.live));
}

/**
 * Moving a folder to another parent needs write permission on the folder itself (its ".."
 * changes): a read-only folder is made writable for the move and given its mode back.
 */
function renameEntry(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const stat = fs.lstatSync(from);
    if ((code !== "EACCES" && code !== "EPERM") || !stat.isDirectory()) throw err;
    fs.chmodSync(from, stat.mode | 0o200);
    fs.renameSync(from, to);
    fs.chmodSync(to, stat.mode & 0o7777);
  }
}

function swapTree(config: AppConfig, journal: RestoreJournal, tree: TreeSwap): void {
  if (tree.merge) return mergeTree(tree);
  if (!tree.asideDone) {
    // The staged tree must be complete before the live one is moved away; if it is missing,
    // this journal was already completed (by another process) and nothing may be touched.
    if (!exists(tree.staged)) throw new Error(`restore journal names ${tree.staged}, which does not exist; refusing to move live data`);
    fs.mkdirSync(tree.aside, { recursive: true });
    for (const name of fs.readdirSync(tree.root)) {
      if (name !== WORK_DIR) renameEntry(path.join(tree.root, name), path.join(tree.aside, name));
    }
    fsyncDirSync(tree.root);
    fsyncDirSync(tree.aside);
    tree.asideDone = true;
    writeJournal(config, journal);
  }
  crashPoint(`restore:tree-aside:${path.basename(tree.root)}`);
  if (exists(tree.staged)) {
    for (const [i, name] of fs.readdirSync(tree.staged).entries()) {
      if (name === WORK_DIR) continue; // our own work folder's name is never restored
      renameEntry(path.join(tree.staged, name), path.join(tree.root, name));
      if (i === 0) crashPoint(`restore:tree-first-moved:${path.basename(tree.root)}`);
    }
  }
  fsyncDirSync(tree.root);
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/**
 * Merges the staged tree into the live one, depth first: a staged folder whose live
 * counterpart is a real folder is descended into; any other staged entry takes its path,
 * the live entry there (file, link, or a folder where the archive has a file) moved aside
 * first. Replaying is safe at any point: an entry still in staging has not been moved in,
 * and a live entry is only moved aside right before its staged replacement comes in. Names
 * aside are unique (they are only kept until the clean-up), so nothing there is overwritten.
 * Touched folders are fsynced at the end, before the journal moves on.
 */
function mergeTree(tree: TreeSwap): void {
  if (!exists(tree.staged)) throw new Error(`restore journal names ${tree.staged}, which does not exist; refusing to merge`);
  fs.mkdirSync(tree.aside, { recursive: true });
  const touched = new Set<string>([tree.root, tree.aside]);
  let firstAside = true;
  let firstMoved = true;
  const walk = (segments: string[]) => {
    for (const name of fs.readdirSync(path.join(tree.staged, ...segments))) {
      if (segments.length === 0 && name === WORK_DIR) continue; // our own work folder's name is never restored
      const rel = [...segments, name];
      const staged = path.join(tree.staged, ...rel);
      const live = path.join(tree.root, ...rel);
      const liveStat = lstatOrNull(live);
      if (liveStat?.isDirectory() && fs.lstatSync(staged).isDirectory()) {
        walk(rel);
        continue;
      }
      if (liveStat) {
        renameEntry(live, path.join(tree.aside, crypto.randomUUID()));
        if (firstAside) crashPoint(`restore:merge-first-aside:${path.basename(tree.root)}`);
        firstAside = false;
      }
      renameEntry(staged, live);
      touched.add(path.dirname(live));
      if (firstMoved) crashPoint(`restore:merge-first-moved:${path.basename(tree.root)}`);
      firstMoved = false;
    }
  };
  walk([]);
  for (const dir of touched) fsyncDirSync(dir);
}

/**
 * The backup system's own tables, carried over from the database that was live before a
 * restore instead of taken from the backup: the catalog (so the list still shows every
 * archive on disk, including newer ones and the safety backup), the audit log (no entry is
 * lost), the settings (a restore must not bring back an older retention policy that would
 * delete more than the admin set), the backup plans, drills, notification channels, their
 * outbox and open alerts (a restore must not bring back an old set of schedules or
 * alerts over the current ones). In dependency order: deliveries refer to channels.
 */
export const BACKUP_SYSTEM_TABLES = [
  "backups",
  "audit_log",
  "settings",
  "backup_plans",
  "restore_drills",
  "notification_channels",
  "notification_deliveries",
  "alert_incidents",
] as const;

/** Makes the restored database hold the current BACKUP_SYSTEM_TABLES. */
function mergeCatalog(journal: RestoreJournal, migrate: (file: string) => void): void {
  const dbSwap = journal.database;
  if (!dbSwap || !exists(dbSwap.aside)) return;
  migrate(dbSwap.live);
  const live = new Database(dbSwap.live);
  try {
    live.pragma("journal_mode = WAL");
    live.prepare("ATTACH DATABASE ? AS previous").run(dbSwap.aside);
    const copy = (table: string) => {
      const columns = (live.prepare(`PRAGMA main.table_info(${table})`).all() as Array<{ name: string }>).map((c) => c.name);
      const previous = new Set((live.prepare(`PRAGMA previous.table_info(${table})`).all() as Array<{ name: string }>).map((c) => c.name));
      const shared = columns.filter((c) => previous.has(c)).map((c) => `"${c}"`).join(", ");
      live.prepare(`DELETE FROM main.${table}`).run();
      live.prepare(`INSERT INTO main.${table} (${shared}) SELECT ${shared} FROM previous.${table}`).run();
    };
    live.transaction(() => {
      for (const table of BACKUP_SYSTEM_TABLES) copy(table);
    })();
    live.prepare("DETACH DATABASE previous").run();
  } finally {
    live.close();
  }
}

function removeLeftovers(journal: RestoreJournal): void {
  for (const dir of journal.workDirs) fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * Runs (or finishes) the swap of a committed restore. `migrate` brings the restored
 * database to this version's schema before the catalog is merged into it. The database
 * must not be open in this process while it runs.
 */
export function completeSwap(
  config: AppConfig,
  journal: RestoreJournal,
  migrate: (file: string) => void,
  /**
   * Leave the old data (moved aside) for the caller to delete, asynchronously: deleting
   * hundreds of thousands of files synchronously would stall every request of a running
   * server. Safe, because once the journal is gone a start-up removes whatever is left.
   */
  options: { deferCleanup?: boolean } = {},
): void {
  if (!done(journal, "database")) {
    if (journal.database) swapDatabase(journal.database);
    advance(config, journal, "database");
  }
  if (!done(journal, "files")) {
    if (journal.files) swapTree(config, journal, journal.files);
    advance(config, journal, "files");
  }
  if (!done(journal, "config")) {
    if (journal.config) swapTree(config, journal, journal.config);
    advance(config, journal, "config");
  }
  if (!done(journal, "merged")) {
    mergeCatalog(journal, migrate);
    advance(config, journal, "merged");
  }
  if (!options.deferCleanup) removeLeftovers(journal);
  crashPoint("restore:after-cleanup");
  fs.rmSync(journalPath(config), { force: true });
  fsyncDirSync(path.dirname(journalPath(config)));
}

/** After completeSwap with deferCleanup: the old data and staging folders, removed without blocking. */
export async function removeLeftoversLater(journal: RestoreJournal): Promise<void> {
  for (const dir of journal.workDirs) await fs.promises.rm(dir, { recursive: true, force: true });
}

/** Staging folders of a restore that never committed: safe to delete, the live data was not touched. */
export function stagingLocations(config: AppConfig): string[] {
  return [
    path.join(config.storagePath, WORK_DIR),
    path.join(config.configPath, WORK_DIR),
    path.join(path.dirname(config.databasePath), WORK_DIR),
  ];
}

/** Blocks the thread for a moment (start-up is synchronous and may wait for another process). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Start-up: finishes a committed restore, or removes the staging of one that never
 * committed. Runs before the database is opened, under the operation lock, so two
 * processes starting at once (the server and a CLI command) never replay it together:
 * the second waits, then finds the journal gone. Returns the journal it completed.
 */
export function recoverRestore(config: AppConfig, migrate: (file: string) => void): RestoreJournal | null {
  if (!readJournal(config)) {
    // A restore running in another live process owns its staging.
    if (readLiveLock(config.backupPath)) return null;
    for (const dir of stagingLocations(config)) fs.rmSync(dir, { recursive: true, force: true });
    return null;
  }
  let lock: HeldLock | undefined;
  for (let waited = 0; !lock; waited += 250) {
    try {
      lock = acquireOperationLock(config.backupPath, "maintenance", "finishing an interrupted restore");
    } catch (err) {
      // The committing restore itself may still be running in another process: let it finish.
      if (waited > 10 * 60 * 1000) throw err;
      pause(250);
    }
  }
  try {
    const journal = readJournal(config);
    if (!journal) return null; // another process finished it while we waited
    completeSwap(config, journal, migrate);
    return journal;
  } finally {
    lock.release();
  }
}
