/**
 * `backup drill [id]` and `backup drills`: run a restore drill from a shell (the web server may
 * be stopped) and list recent ones. The drill service does the work, the checks and the
 * auditing; this file parses, calls and prints. A failed drill exits with 1, so a cron job or
 * a monitoring script notices.
 */
import type { Command } from "commander";
import { formatBytes, formatDuration, pluralize } from "@/lib/format";
import type { RestoreDrill } from "@/db/schema";
import { toDrillRecord } from "../backup/drill/contract";
import { DRILL_CHECKS, listDrills, runRestoreDrill, type DrillCheckName } from "../backup/drill/drill";
import { startupSettled } from "../startup";
import { CliExit, EXIT_FAILURE, printResult, startCommand, type CliIO } from "./io";

function checkLabel(name: string): string {
  return DRILL_CHECKS[name as DrillCheckName] ?? name;
}

/** The drill's result, one check per line. */
function drillReport(row: RestoreDrill): string {
  const head =
    row.status === "passed"
      ? `drill ${row.id} passed: ${row.backupFilename} restores (restore took ${formatDuration(row.durationMs ?? 0)}, ` +
        `${pluralize(row.fileCount ?? 0, "file")}, ${formatBytes(row.bytes ?? 0)})`
      : `drill ${row.id} FAILED: ${row.backupFilename}: ${row.errorMessage ?? "unknown reason"}`;
  const checks = (row.checks ?? []).map((c) => `  ${c.ok ? "ok    " : "FAILED"}  ${checkLabel(c.name)}${c.detail ? `: ${c.detail}` : ""}`);
  return [head, ...checks].join("\n");
}

function drillLine(row: RestoreDrill): string {
  const took = row.durationMs === null ? "–" : formatDuration(row.durationMs);
  return `${String(row.id).padEnd(5)} ${row.startedAt.toISOString().slice(0, 19).replace("T", " ")}  ${row.status.padEnd(7)} ${took.padEnd(9)} ${row.backupFilename ?? "–"}`;
}

/** Adds the drill commands to the `backup` command group, whose id parser they share. */
export function registerDrillCommands(backup: Command, io: CliIO, parseBackupId: (value: string) => number): void {
  backup
    .command("drill")
    .description("restore a backup into a sandbox and check it, without touching live data (default: the newest completed, undamaged backup)")
    .argument("[id]", "backup id (see `backup list`)", parseBackupId)
    .action(async (id: number | undefined, _options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      await startupSettled();
      const row = await runRestoreDrill({ db: ctx.db, config: ctx.config, actor: ctx.actor, backupId: id });
      printResult(ctx, drillReport(row), toDrillRecord(row));
      if (row.status !== "passed") throw new CliExit(EXIT_FAILURE, `the restore drill of ${row.backupFilename} failed; do not rely on that backup until a drill passes`);
    });

  backup
    .command("drills")
    .description("list recent restore drills, newest first")
    .action((_options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      const rows = listDrills(ctx.db, { config: ctx.config });
      const human = rows.length
        ? ["ID    STARTED (UTC)        STATUS  TOOK      BACKUP", ...rows.map(drillLine)].join("\n")
        : "no restore drill yet — run one with: npm run -s cli -- backup drill";
      printResult(ctx, human, { drills: rows.map(toDrillRecord) });
    });
}
