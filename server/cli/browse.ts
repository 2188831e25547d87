/**
 * `backup ls`, `backup cat` and `backup restore <id> --path …`: look into a backup and take
 * back single files or folders from a shell. The browse engine (server/backup/browse/) does
 * the work, the checks and the auditing; this file parses, calls and prints.
 */
import { once } from "node:events";
import type { Command } from "commander";
import { formatBytes, pluralize } from "@/lib/format";
import { listBackupFolder, listUserFolders, MAX_PAGE, openBackupFile } from "../backup/browse/browse";
import { planRestorePaths, restorePaths, type RestorePathsRequest } from "../backup/browse/restore-paths";
import type { TreeEntry } from "../backup/browse/tree-index";
import { startupSettled } from "../startup";
import { AppError } from "../errors";
import { CliExit, EXIT_USAGE, formatTable, localTime, printHint, printResult, startCommand, type CliIO } from "./io";

export function registerBrowseCommands(backup: Command, io: CliIO, parseBackupId: (value: string) => number): void {
  backup
    .command("ls")
    .description("list a folder of a backup as it was (the whole tree, through an incremental's chain)")
    .argument("<id>", "backup id", parseBackupId)
    .argument("[path]", "folder inside the backup: files/…, config/…, database (default: the top)", "")
    .action(async (id: number, folder: string, _options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      const entries: TreeEntry[] = [];
      let total = 0;
      for (let offset = 0; offset === 0 || offset < total; offset += MAX_PAGE) {
        const page = await listBackupFolder({ db: ctx.db, config: ctx.config, id, path: folder, offset, limit: MAX_PAGE });
        total = page.total;
        if (ctx.json) entries.push(...page.entries);
        else {
          const rows = page.entries.map((e) => [
            e.type === "dir" ? "dir" : e.type === "symlink" ? "link" : "file",
            e.type === "file" ? formatBytes(e.size) : "–",
            e.mtime === null ? "–" : localTime(new Date(e.mtime).toISOString()),
            e.type === "dir" ? `${e.name}/` : e.type === "symlink" ? `${e.name} -> ${e.linkTarget ?? ""}` : e.name,
          ]);
          if (rows.length > 0) io.stdout.write(`${formatTable(["TYPE", "SIZE", "MODIFIED", "NAME"], rows)}\n`);
        }
        if (page.entries.length === 0) break;
      }
      if (ctx.json) printResult(ctx, "", { path: folder.replace(/\/+$/, ""), total, entries });
      else if (total === 0) printHint(io, "(empty folder)");
    });

  backup
    .command("cat")
    .description("write one file of a backup to stdout, straight out of the archive (checked against its SHA-256)")
    .argument("<id>", "backup id", parseBackupId)
    .argument("<path>", "file inside the backup, e.g. files/alice/report.pdf")
    .action(async (id: number, file: string, _options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      const { stream } = await openBackupFile({ db: ctx.db, config: ctx.config, id, path: file, actor: ctx.actor });
      for await (const chunk of stream) {
        if (!io.stdout.write(chunk as Buffer)) await once(io.stdout, "drain");
      }
    });
}

export interface SelectiveRestoreOptions {
  path?: string[];
  user?: string[];
  to?: string;
  overwrite?: boolean;
  yes?: boolean;
  dryRun?: boolean;
}

/** Whether `backup restore` was asked for selected paths rather than a whole backup. */
export function isSelectiveRestore(options: SelectiveRestoreOptions): boolean {
  return Boolean(options.path?.length || options.user?.length);
}

/** `backup restore <id> --path P [--path …] [--user NAME] [--to FOLDER] [--overwrite --yes] [--dry-run]`. */
export async function runSelectiveRestore(io: CliIO, command: Command, id: number, options: SelectiveRestoreOptions): Promise<void> {
  if (options.overwrite && options.to !== undefined) throw new CliExit(EXIT_USAGE, "--overwrite applies to a restore to the original location, not with --to.");
  if (options.overwrite && !options.yes && !options.dryRun) {
    throw new CliExit(EXIT_USAGE, "--overwrite replaces the current versions without keeping them. Nothing was changed; add --yes to go ahead (or --dry-run to see what would be replaced).");
  }
  const ctx = startCommand(io, command);
  await startupSettled();
  const paths = [...(options.path ?? [])];
  if (options.user?.length) {
    const folders = await listUserFolders({ db: ctx.db, config: ctx.config, id });
    for (const name of options.user) {
      const f = folders.find((u) => u.username === name);
      if (!f) throw new AppError("NOT_FOUND", `Backup ${id} has no storage folder of the user "${name}" (files/${name}).`);
      paths.push(f.path);
    }
  }
  const request: RestorePathsRequest = {
    id,
    paths,
    destination: options.to === undefined ? "original" : "folder",
    folder: options.to,
    overwrite: options.overwrite,
  };
  if (options.dryRun) {
    const plan = await planRestorePaths({ db: ctx.db, config: ctx.config, ...request });
    const lines = plan.overwrites.map((o) => `  ${o.target}${o.newer ? " (live version is newer)" : ""}${o.keptAs ? ` -> kept as ${o.keptAs}` : " -> overwritten"}`);
    printResult(
      ctx,
      [
        `would restore ${pluralize(plan.files, "file")} (${formatBytes(plan.bytes)}) into ${plan.root === "" ? "their original place" : plan.root}; ` +
          `${pluralize(plan.overwriteCount, "current version")} would be replaced, ${plan.unchangedCount} already identical`,
        ...lines,
        ...(plan.overwriteCount > lines.length ? [`  … and ${plan.overwriteCount - lines.length} more`] : []),
      ].join("\n"),
      plan,
    );
    return;
  }
  const result = await restorePaths({ db: ctx.db, config: ctx.config, actor: ctx.actor, ...request });
  const kept = result.kept.map((k) => `  ${k.target} was kept as ${k.keptAs}`);
  printResult(
    ctx,
    [
      `restored ${pluralize(result.restoredFiles, "file")} (${formatBytes(result.bytes)}) from backup ${id} into ${result.root === "" ? "their original place" : result.root}` +
        (result.unchangedCount ? `; ${result.unchangedCount} already identical` : ""),
      ...kept,
      ...(result.keptCount > kept.length ? [`  … and ${result.keptCount - kept.length} more kept`] : []),
    ].join("\n"),
    result,
  );
}
