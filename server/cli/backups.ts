/**
 * `backup ...` commands: create, list, show, delete and restore backups from a shell, e.g.
 * while the web server is stopped. The backup service does the work and the auditing
 * (create, delete and restore are audited there, with the CLI actor); this file parses,
 * calls and prints.
 *
 * Progress goes to stderr, and only when stderr is a terminal: one line redrawn in place,
 * so a script capturing stdout or a log capturing stderr never sees it.
 */
import fs from "node:fs";
import path from "node:path";
import { InvalidArgumentError, Option, type Command } from "commander";
import { formatBytes, formatDuration, pluralize } from "@/lib/format";
import { BACKUP_TYPES, type BackupType } from "@/db/schema";
import { toProgressRecord, type BackupRecord } from "../backup/contract";
import { importBackup, verifyBackup } from "../backup/import";
import { archiveKeys } from "../backup/encryption";
import { verifyArchive } from "../backup/restore/extract";
import { runningJobs, type BackupProgress } from "../backup/progress";
import { currentRestoreProgress, type RestoreProgress } from "../backup/restore/progress";
import { restoreArchiveFile, type RestoreFileOptions } from "../backup/restore/from-file";
import { restoreBackup } from "../backup/restore/restore";
import { createBackup, deleteBackup, getBackup, listBackups, progressOf, setBackupProtected, waitForBackup } from "../backup/service";
import { AppError } from "../errors";
import { startupSettled } from "../startup";
import { isSelectiveRestore, registerBrowseCommands, runSelectiveRestore, type SelectiveRestoreOptions } from "./browse";
import { registerDrillCommands } from "./drills";
import { registerOffsiteCommands } from "./offsite";
import { restoreRemoteBackup, sourceFromUrl } from "../backup/targets/remote";
import { keysFromOptions, registerEncryptionCommands, withKeyOptions, type KeyOptions } from "./encryption";
import {
  CliExit,
  EXIT_FAILURE,
  EXIT_USAGE,
  formatTable,
  localTime,
  printHint,
  printResult,
  startCommand,
  type CliContext,
  type CliIO,
} from "./io";

const PROGRESS_INTERVAL_MS = 250;

const CONFIRM_RESTORE_MESSAGE =
  "a restore overwrites the current database and files (and config, with --config) with the backup's. " +
  "Nothing was changed; run it again with --yes to go ahead.";

export function registerBackupCommands(program: Command, io: CliIO): void {
  const backup = program.command("backup").description("create, list, inspect, delete and restore backups");

  backup
    .command("create")
    .description("make a backup and wait for it to finish")
    .addOption(new Option("--type <type>", "what to back up").choices(BACKUP_TYPES).makeOptionMandatory())
    .option("--config", "include the config folder")
    .option("--path <folder>", "write the archive to this folder inside the backup folder (absolute, or relative to it)")
    .action(async (options: { type: BackupType; config?: boolean; path?: string }, command: Command) => {
      const ctx = startCommand(io, command);
      // Start-up recovery sweeps temporary backup files; let it finish before this backup makes some.
      await startupSettled();
      const started = await createBackup({
        db: ctx.db,
        config: ctx.config,
        actor: ctx.actor,
        input: { backup_type: options.type, includes_config: options.config || undefined, backup_path: options.path },
      });
      await showProgressWhile(io, waitForBackup(started.id), () => progressOf(started.id), backupProgressLine);
      const record = getBackup(ctx.db, started.id);
      if (options.type === "incremental" && record.backup_type === "full") {
        printHint(io, "no earlier backup of the files to build on: this incremental was made as a full backup.");
      }
      if (record.status !== "completed") {
        if (ctx.json) printResult(ctx, "", record);
        throw new CliExit(EXIT_FAILURE, `backup ${record.id} failed: ${record.error_message ?? "unknown reason"}`);
      }
      printResult(
        ctx,
        `created backup ${record.id}: ${record.filename} (${formatBytes(record.size_bytes)}, ${record.backup_type})`,
        record,
      );
    });

  backup
    .command("list")
    .description("list backups, newest first")
    .action((_options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      const list = listBackups(ctx.db, ctx.config);
      const human = list.backups.length
        ? `${backupTable(list.backups)}\n${pluralize(list.backups.length, "backup")}, ` +
          `${formatBytes(list.total_size_bytes)} in completed backups`
        : "no backups yet — create one with: npm run -s cli -- backup create --type full";
      printResult(ctx, human, list);
    });

  backup
    .command("show")
    .description("show the details of one backup")
    .argument("<id>", "backup id (see `backup list`)", parseBackupId)
    .action((id: number, _options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      const record = getBackup(ctx.db, id);
      printResult(ctx, backupDetails(record), record);
    });

  backup
    .command("delete")
    .description("delete a backup: its row and its archive")
    .argument("<id>", "backup id (see `backup list`)", parseBackupId)
    .action(async (id: number, _options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      await deleteBackup({ db: ctx.db, config: ctx.config, actor: ctx.actor, id });
      printResult(ctx, `deleted backup ${id}`, { id, deleted: true });
    });

  for (const [name, protect] of [
    ["protect", true],
    ["unprotect", false],
  ] as const) {
    backup
      .command(name)
      .description(protect ? "pin a backup so retention never removes it" : "let retention remove a backup again")
      .argument("<id>", "backup id (see `backup list`)", parseBackupId)
      .action((id: number, _options: unknown, command: Command) => {
        const ctx = startCommand(io, command);
        const record = setBackupProtected({ db: ctx.db, actor: ctx.actor, id, protect });
        printResult(ctx, `${record.filename} is ${protect ? "protected: retention never removes it" : "no longer protected"}`, record);
      });
  }

  withKeyOptions(backup
    .command("restore"))
    .description(
      "restore a backup over the current data (a safety backup of the current state is made first); " +
        "<backup> is a backup id, or the path of an archive to import and restore",
    )
    .argument(
      "<backup>",
      "backup id (see `backup list`), path of a .tar.gz archive (./12 for a file named 12), or s3://BUCKET/PREFIX/backup_….tar.gz (keys from AWS_* variables)",
      parseRestoreSource,
    )
    .option("--yes", "confirm that the current data is to be overwritten")
    .option("--no-database", "leave the current database as it is")
    .option("--no-files", "leave the current files as they are")
    .option("--config", "restore the config folder too")
    .option("--path <path>", "restore only this file or folder of the storage (files/…; repeat for more); current versions are kept beside", collect)
    .option("--user <name>", "with a backup id: restore only this user's storage folder (files/<name>; repeatable)", collect)
    .option("--to <folder>", "with --path/--user: restore into this folder inside the storage instead of the original place")
    .option("--overwrite", "with --path/--user: replace current versions instead of keeping them as \"… (before restore DATE)\" (needs --yes)")
    .option("--dry-run", "with --path/--user: list what would be restored and replaced, change nothing")
    .action(
      async (
        source: RestoreSource,
        options: { yes?: boolean; database: boolean; files: boolean; config?: boolean } & SelectiveRestoreOptions & KeyOptions,
        command: Command,
      ) => {
        if (isSelectiveRestore(options)) {
          if (!("id" in source)) throw new CliExit(EXIT_USAGE, "--path and --user restore from a backup in the list: give its id (import an archive first).");
          return runSelectiveRestore(io, command, source.id, options);
        }
        // Refused before the app starts, so nothing at all is touched.
        if (!options.yes) throw new CliExit(EXIT_USAGE, CONFIRM_RESTORE_MESSAGE);
        const ctx = startCommand(io, command);
        await startupSettled();
        const common = {
          db: ctx.db,
          config: ctx.config,
          actor: ctx.actor,
          parts: { database: options.database, files: options.files, config: Boolean(options.config) },
          confirm: true,
          keys: keysFromOptions(options),
        };
        // A file is read once: verified while it is staged, copied into the catalog meanwhile.
        const restoring =
          "id" in source
            ? restoreBackup({ ...common, backupId: source.id })
            : "url" in source
              ? restoreFromBucket(ctx, source.url, common)
              : restoreFile(ctx, source.file, common);
        const outcome = await showProgressWhile(io, restoring, currentRestoreProgress, restoreProgressLine);
        printResult(
          ctx,
          `${outcome.message}\nsafety backup ${outcome.safety_backup_id} holds the state before this restore; restore it to undo`,
          outcome,
        );
      },
    );

  registerArchiveCommands(backup, io);
  registerDrillCommands(backup, io, parseBackupId);
  registerBrowseCommands(backup, io, parseBackupId);
  registerOffsiteCommands(backup, io);
  registerEncryptionCommands(backup, io);
}

function registerArchiveCommands(backup: Command, io: CliIO): void {
  withKeyOptions(backup
    .command("import"))
    .description("add an archive (downloaded earlier, or from another BaluHost) to the backup list, after verifying it")
    .argument("<file>", "path of a .tar.gz archive")
    .addOption(
      new Option("--type <type>", "the backup type of an archive without a BaluHost manifest, when its contents cannot tell (e.g. incremental)").choices(
        BACKUP_TYPES,
      ),
    )
    .action(async (file: string, options: { type?: BackupType } & KeyOptions, command: Command) => {
      const ctx = startCommand(io, command);
      await startupSettled();
      const id = await importForRestore(ctx, path.resolve(file), options.type, options);
      const record = getBackup(ctx.db, id);
      printResult(ctx, `imported backup ${id}: ${record.filename} (${formatBytes(record.size_bytes)}, ${record.backup_type}); restore it with: backup restore ${id} --yes`, record);
    });

  withKeyOptions(backup
    .command("verify"))
    .description("read a whole archive and check it against its manifest, without restoring; <backup> is an id or a file path")
    .argument("<backup>", "backup id (see `backup list`), or path of a .tar.gz archive", parseRestoreSource)
    .action(async (source: RestoreSource, options: KeyOptions, command: Command) => {
      const ctx = startCommand(io, command);
      if ("url" in source) throw new CliExit(EXIT_USAGE, "to check an archive in a bucket, use: backup remote verify s3://BUCKET/PREFIX FILE");
      const keys = keysFromOptions(options);
      if ("file" in source) {
        if (!fs.existsSync(source.file)) throw new AppError("NOT_FOUND", `There is no archive at ${source.file}.`);
        const result = await verifyArchive(source.file, { keys: await archiveKeys(ctx.config, keys) });
        printResult(
          ctx,
          `ok: ${source.file} is intact (${pluralize(result.fileCount, "file")}, ${formatBytes(result.totalBytes)}` +
            `${result.manifest ? `, ${result.manifest.backup_type} backup from ${result.manifest.created_at}` : ", no BaluHost manifest"})`,
          { file: source.file, ok: true, file_count: result.fileCount, total_bytes: result.totalBytes, manifest: result.manifest !== null },
        );
        return;
      }
      const row = await verifyBackup({ db: ctx.db, config: ctx.config, actor: ctx.actor, id: source.id, keys });
      const record = getBackup(ctx.db, row.id);
      if (row.verifyStatus !== "ok") {
        printResult(ctx, `backup ${row.id} FAILED verification: ${row.verifyError}`, record);
        throw new CliExit(EXIT_FAILURE, `backup ${row.id} is damaged; do not rely on it`);
      }
      printResult(
        ctx,
        row.verifyScope === "structure"
          ? `ok, without its key: backup ${row.id} (${row.filename}) has a valid age header, its size and SHA-256 as made; give --passphrase-file or --identity for a full check`
          : `ok: backup ${row.id} (${row.filename}) is intact`,
        record,
      );
    });
}

type RestoreSource = { id: number } | { file: string } | { url: string };

/** Commander's collector for a repeatable option. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** A backup id: a positive whole number, written as digits only ("0x10" and "1e3" are not ids). */
function parseBackupId(value: string): number {
  const id = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(id) || id < 1) {
    throw new InvalidArgumentError("a backup id is a positive whole number (see `backup list`)");
  }
  return id;
}

/** Digits are a backup id; s3:// an archive in a bucket; anything else is the path of an archive to import. */
function parseRestoreSource(value: string): RestoreSource {
  if (value.startsWith("s3://")) return { url: value };
  return /^\d+$/.test(value) ? { id: parseBackupId(value) } : { file: path.resolve(value) };
}

/** The disaster path without a saved target: keys and endpoint from the environment. */
async function restoreFromBucket(ctx: CliContext, url: string, common: Omit<RestoreFileOptions, "file">) {
  const { filename, ...source } = sourceFromUrl(url, ctx.io.env);
  if (!filename) throw new AppError("BAD_REQUEST", `Name the archive: s3://BUCKET/PREFIX/backup_….tar.gz (see: backup remote list ${url}).`);
  const outcome = await restoreRemoteBackup({ ...common, source, filename });
  printHint(ctx.io, `${url} was checked against its SHA-256 and added to the backup list as backup ${outcome.backup_id}`);
  return outcome;
}

async function restoreFile(ctx: CliContext, file: string, common: Omit<RestoreFileOptions, "file">) {
  if (!fs.existsSync(file)) {
    throw new AppError("NOT_FOUND", `There is no archive at ${file}. Give a backup id (see \`backup list\`) or the path of a .tar.gz archive.`);
  }
  const outcome = await restoreArchiveFile({ ...common, file });
  printHint(ctx.io, `${file} was added to the backup list as backup ${outcome.backup_id}`);
  return outcome;
}

async function importForRestore(ctx: CliContext, file: string, declaredType?: BackupType, keyOptions: KeyOptions = {}): Promise<number> {
  if (!fs.existsSync(file)) {
    throw new AppError("NOT_FOUND", `There is no archive at ${file}. Give a backup id (see \`backup list\`) or the path of a .tar.gz archive.`);
  }
  const imported = await importBackup({
    db: ctx.db,
    config: ctx.config,
    actor: ctx.actor,
    source: { path: file },
    origin: "imported",
    originalName: path.basename(file),
    declaredType,
    keys: keysFromOptions(keyOptions),
  });
  printHint(ctx.io, `imported ${file} as backup ${imported.id} (${imported.filename})`);
  return imported.id;
}

/**
 * Awaits `work`, redrawing one progress line on stderr every 250 ms if stderr is a
 * terminal. The progress object is live (the service mutates it), so the last one seen is
 * drawn once more at the end, showing where the operation finished.
 */
async function showProgressWhile<T, P>(
  io: CliIO,
  work: Promise<T>,
  read: () => P | null,
  format: (progress: P) => string,
): Promise<T> {
  const stderr = io.stderr as CliIO["stderr"] & { isTTY?: boolean };
  if (!stderr.isTTY) return work;
  let last: P | null = null;
  const draw = () => {
    last = read() ?? last;
    if (last) stderr.write(`\r\x1b[K${format(last)}`);
  };
  draw();
  const timer = setInterval(draw, PROGRESS_INTERVAL_MS);
  try {
    return await work;
  } finally {
    clearInterval(timer);
    draw();
    if (last) stderr.write("\n");
  }
}

const mb = (bytes: number) => (bytes / (1024 * 1024)).toFixed(1);

/** "archiving: 2/3 files, 37.0/190.8 MB, 19.3%" */
function backupFigures(progress: BackupProgress): string {
  const p = toProgressRecord(progress)!;
  return `${p.phase}: ${p.files_done}/${p.files_total} files, ${mb(p.bytes_done)}/${mb(p.bytes_total)} MB, ${p.percent.toFixed(1)}%`;
}

function backupProgressLine(progress: BackupProgress): string {
  return `${backupFigures(progress)}, ${formatDuration(Date.now() - progress.startedAt)}`;
}

/** The restore's step; while it makes its safety backup, that backup's figures (it holds the lock, so it is the only job). */
function restoreProgressLine(progress: RestoreProgress): string {
  const safety = progress.step === "safety backup" ? runningJobs()[0]?.progress : undefined;
  const percent = progress.bytesTotal > 0 ? Math.min(100, (progress.bytesDone / progress.bytesTotal) * 100) : 0;
  const step = safety
    ? `safety backup, ${backupFigures(safety)}`
    : progress.step.startsWith("verifying")
      ? `${progress.step}: ${percent.toFixed(1)}%`
      : progress.step;
  return `restore, ${step}, ${formatDuration(Date.now() - progress.startedAt)}`;
}

function backupTable(records: BackupRecord[]): string {
  const header = ["ID", "CREATED", "TYPE", "STATUS", "SIZE", "FILENAME", "ORIGIN", "CREATOR"];
  const rows = records.map((b) => [
    String(b.id),
    localTime(b.created_at),
    b.backup_type,
    b.status,
    b.status === "completed" ? formatBytes(b.size_bytes) : "–",
    b.filename,
    b.origin,
    b.creator_name ?? "–",
  ]);
  return formatTable(header, rows);
}

function backupDetails(b: BackupRecord): string {
  const parts = [b.includes_database && "database", b.includes_files && "files", b.includes_config && "config"].filter(Boolean);
  const lines: Array<[string, string | null]> = [
    ["file", `${b.filename} (${b.filepath})`],
    ["status", b.status],
    ["error", b.error_message],
    ["type", `${b.backup_type}: ${parts.join(", ")}`],
    ["based on", b.parent_id === null ? null : `backup ${b.parent_id}`],
    [
      "encryption",
      b.encryption === "passphrase"
        ? "age, passphrase (scrypt)"
        : b.encryption === "recipients"
          ? `age, to ${b.encryption_recipients?.join(", ") ?? "public keys (which ones is not recorded)"}`
          : null,
    ],
    ["origin", `${b.origin}, by ${b.creator_name ?? "unknown"}`],
    ["created", localTime(b.created_at)],
    ["completed", b.completed_at ? localTime(b.completed_at) : null],
    ["size", `${formatBytes(b.size_bytes)} (${b.size_bytes} bytes)${b.file_count === null ? "" : `, ${pluralize(b.file_count, "file")}`}`],
    ["sha256", b.sha256],
    ["verified", b.verify_status ? `${b.verify_status} at ${localTime(b.verified_at)}${b.verify_error ? `: ${b.verify_error}` : ""}` : null],
  ];
  return [`backup ${b.id}`, ...lines.filter(([, v]) => v !== null).map(([k, v]) => `  ${`${k}:`.padEnd(11)}${v}`)].join("\n");
}
