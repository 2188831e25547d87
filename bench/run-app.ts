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
 *
 * `--app DIR` holds the app's database, config and backup folders (the storage is the tree).
 */
import fs from "node:fs";
import path from "node:path";
import { getDb } from "../db/client";
import { extractArchive } from "../server/backup/restore/extract";
import { restoreArchiveFile } from "../server/backup/restore/from-file";
import { currentRestoreProgress } from "../server/backup/restore/progress";
import { createBackup } from "../server/backup/service";
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
            : null;
  if (!result) throw new Error("mode must be full, incremental, restore or restore-file");
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ ...result, cpuMs: (cpu.user + cpu.system) / 1000, maxRssKb: process.resourceUsage().maxRSS }));
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
