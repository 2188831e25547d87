/**
 * The app's own operations, each in a process of its own so the benchmark can read that
 * process's peak RSS. Prints one line of JSON. Usage:
 *
 *   tsx bench/run-app.ts full        --storage DIR --app DIR             full backup through the service
 *                                    [--encrypt-to age1…]              ... encrypted to that age public key
 *   tsx bench/run-app.ts incremental --storage DIR --app DIR             incremental (after a full one)
 *   tsx bench/run-app.ts restore     --archive FILE --into DIR           verification + extraction
 *                                    [--identity AGE-SECRET-KEY-1…]    ... of an encrypted archive
 *   tsx bench/run-app.ts restore-file --archive FILE --app DIR           the disaster path: a fresh app
 *                                                                        restores the file (one read: verify,
 *                                                                        stage, catalog copy, safety backup, swap)
 *   tsx bench/run-app.ts browse-cat  --storage DIR --app DIR --path P    read one file of the newest backup
 *                                                                        out of its archive (to nowhere)
 *   tsx bench/run-app.ts browse-ls   --storage DIR --app DIR --path P    list one folder (first page) of the
 *                                                                        newest backup
 * The browse modes build the backup's browse index first if it has none, and report that
 * time apart (indexMs): it is paid once per backup.
 *   tsx bench/run-app.ts offsite --app DIR --bucket B --part-mb N --parallel N
 *                                                                        copies the app's newest backup to the
 *                                                                        bucket on BENCH_S3_ENDPOINT through the
 *                                                                        copy queue (upload, then read back)
 *
 * `--app DIR` holds the app's database, config and backup folders (the storage is the tree).
 */
import fs from "node:fs";
import path from "node:path";
import { getDb } from "../db/client";
import { listBackupFolder, openBackupFile } from "../server/backup/browse/browse";
import { openTreeIndex } from "../server/backup/browse/tree-index";
import { listBackupRows } from "../server/backup/catalog";
import { extractArchive } from "../server/backup/restore/extract";
import { restoreArchiveFile } from "../server/backup/restore/from-file";
import { currentRestoreProgress } from "../server/backup/restore/progress";
import { createBackup, listBackups } from "../server/backup/service";
import { drainOffsiteQueue, requestCopy } from "../server/backup/targets/copy-queue";
import { copyStates } from "../server/backup/targets/copy-states";
import { savedSource, verifyRemoteBackup } from "../server/backup/targets/remote";
import { createTarget, listTargets } from "../server/backup/targets/targets";
import { getConfig } from "../server/config";
import { ensureStarted, startupSettled } from "../server/startup";

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? process.argv[i + 1] : undefined;
  if (!value) throw new Error(`--${name} is required`);
  return value;
}

function optionalArg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function useAppFolders(storage: string, app: string): void {
  process.env.NAS_STORAGE_PATH = storage;
  process.env.NAS_DATABASE_PATH = path.join(app, "data", "baluhost.db");
  process.env.NAS_CONFIG_PATH = path.join(app, "config");
  process.env.NAS_BACKUP_PATH = path.join(app, "backups");
  process.env.NAS_BACKUP_MAX_COUNT = "1000";
  process.env.ADMIN_PASSWORD ??= "bench-password-1";
}

async function backup(type: "full" | "incremental") {
  useAppFolders(arg("storage"), arg("app"));
  const encryptTo = optionalArg("encrypt-to");
  if (encryptTo) process.env.BACKUP_ENCRYPTION_RECIPIENTS = encryptTo;
  ensureStarted({ announceAdminPassword: false });
  await startupSettled();
  const t0 = performance.now();
  const row = await createBackup({
    db: getDb(),
    config: getConfig(),
    actor: { id: null, username: "bench" },
    input: { backup_type: type, wait: true },
  });
  const wallMs = performance.now() - t0;
  if (row.status !== "completed") throw new Error(`backup failed: ${row.errorMessage}`);
  return { wallMs, sizeBytes: row.sizeBytes, archive: path.join(getConfig().backupPath, row.filename), type: row.backupType };
}

async function restore() {
  const into = arg("into");
  const destinations = { database: path.join(into, "database"), files: path.join(into, "files"), config: path.join(into, "config") };
  for (const dir of Object.values(destinations)) fs.mkdirSync(dir, { recursive: true });
  const t0 = performance.now();
  const identity = optionalArg("identity");
  const result = await extractArchive({ archivePath: arg("archive"), destinations, keys: identity ? { identities: [identity] } : undefined });
  return { wallMs: performance.now() - t0, files: result.filesWritten, totalBytes: result.totalBytes };
}

/** As `backup restore FILE --yes` on a fresh machine; the app's own start-up (first run: migrations, admin) is not timed. */
async function restoreFile() {
  const app = arg("app");
  useAppFolders(path.join(app, "storage"), app);
  ensureStarted({ announceAdminPassword: false });
  await startupSettled();
  const t0 = performance.now();
  // Where the time goes: the restore's steps as it reports them, sampled every 50 ms.
  const steps: Record<string, number> = {};
  let step = "preparing";
  let stepAt = t0;
  const sample = setInterval(() => {
    const now = currentRestoreProgress()?.step ?? step;
    if (now === step) return;
    steps[step] = (steps[step] ?? 0) + performance.now() - stepAt;
    step = now;
    stepAt = performance.now();
  }, 50);
  const outcome = await restoreArchiveFile({
    db: getDb(),
    config: getConfig(),
    actor: { id: null, username: "bench" },
    parts: { database: true, files: true, config: false },
    confirm: true,
    file: arg("archive"),
  });
  clearInterval(sample);
  steps[step] = (steps[step] ?? 0) + performance.now() - stepAt;
  return { wallMs: performance.now() - t0, backupId: outcome.backup_id, steps };
}

/** The newest backup of the app, its browse index built (timed apart). */
async function newestBrowsable() {
  useAppFolders(arg("storage"), arg("app"));
  ensureStarted({ announceAdminPassword: false });
  await startupSettled();
  const row = listBackupRows(getDb()).find((r) => r.status === "completed");
  if (!row) throw new Error("no completed backup to browse");
  const t0 = performance.now();
  (await openTreeIndex({ db: getDb(), config: getConfig(), row })).close();
  return { id: row.id, indexMs: performance.now() - t0 };
}

async function browseCat() {
  const { id, indexMs } = await newestBrowsable();
  const t0 = performance.now();
  const { stream } = await openBackupFile({ db: getDb(), config: getConfig(), id, path: arg("path") });
  let bytes = 0;
  for await (const chunk of stream) bytes += (chunk as Buffer).length;
  return { wallMs: performance.now() - t0, bytes, indexMs };
}

async function browseLs() {
  const { id, indexMs } = await newestBrowsable();
  const t0 = performance.now();
  const page = await listBackupFolder({ db: getDb(), config: getConfig(), id, path: arg("path"), limit: 200 });
  return { wallMs: performance.now() - t0, entries: page.entries.length, total: page.total, indexMs };
}

/** The newest backup copied to an S3 bucket through the copy queue, as the web server's copier does it. */
async function offsite() {
  const app = arg("app");
  useAppFolders(path.join(app, "storage"), app);
  ensureStarted({ announceAdminPassword: false });
  await startupSettled();
  const db = getDb();
  const config = getConfig();
  const actor = { id: null, username: "bench" };
  const bucket = arg("bucket");
  const name = `bench-${bucket}`;
  const existing = listTargets(db).find((t) => t.name === name);
  const target =
    existing ??
    (await createTarget({
      db,
      config,
      actor,
      input: {
        name,
        endpoint: process.env.BENCH_S3_ENDPOINT!,
        bucket,
        force_path_style: true,
        access_key_id: process.env.BENCH_S3_ACCESS_KEY!,
        secret_access_key: process.env.BENCH_S3_SECRET_KEY!,
      },
    }));
  const newest = listBackups(db).backups.find((b) => b.status === "completed")!;
  requestCopy({ db, actor, backupId: newest.id, targetId: target.id });
  const t0 = performance.now();
  const result = await drainOffsiteQueue({ db, config, partBytes: Number(arg("part-mb")) * 1024 * 1024, parallelParts: Number(arg("parallel")) });
  const wallMs = performance.now() - t0;
  if (result.verified !== 1) throw new Error(`the copy was not verified: ${JSON.stringify(copyStates(db, newest.id))}`);
  // The read-back alone, to tell the upload's share of the time.
  const r0 = performance.now();
  const check = await verifyRemoteBackup({ db, actor, source: await savedSource(db, config, target.id), filename: newest.filename });
  if (!check.ok) throw new Error(check.error ?? "read-back failed");
  return { wallMs, sizeBytes: newest.size_bytes, readBackMs: performance.now() - r0, key: copyStates(db, newest.id)[0]?.remote_key };
}

async function main(): Promise<void> {
  const mode = process.argv[2];
  const cpu0 = process.cpuUsage();
  const result =
    mode === "full"
      ? await backup("full")
      : mode === "incremental"
        ? await backup("incremental")
        : mode === "restore"
          ? await restore()
          : mode === "restore-file"
            ? await restoreFile()
            : mode === "browse-cat"
              ? await browseCat()
              : mode === "browse-ls"
                ? await browseLs()
                : mode === "offsite"
                  ? await offsite()
                  : null;
  if (!result) throw new Error("mode must be full, incremental, restore, restore-file, browse-cat, browse-ls or offsite");
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ ...result, cpuMs: (cpu.user + cpu.system) / 1000, maxRssKb: process.resourceUsage().maxRSS }));
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
