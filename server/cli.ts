/**
 * The command line: `npm run -s cli -- <command>`. It runs without the web server, against
 * the same config, database and service functions; commands are thin wrappers.
 *
 * To add a command group, write server/cli/<area>.ts exporting a RegisterCommands
 * function and add it to commandGroups below.
 */
import { closeDatabase, getDb } from "@/db/client";
import { deliveringAnnouncements } from "./backup/notify/sender";
import { registerBackupCommands } from "./cli/backups";
import { processIO, reportError, type RegisterCommands } from "./cli/io";
import { registerNotifyCommands } from "./cli/notify";
import { runCli } from "./cli/program";
import { registerScheduleCommands } from "./cli/schedules";
import { registerTokenCommands } from "./cli/tokens";
import { registerUserCommands } from "./cli/users";
import { getConfig } from "./config";
import { startupSettled } from "./startup";

const commandGroups: RegisterCommands[] = [
  registerUserCommands,
  registerTokenCommands,
  registerBackupCommands,
  registerScheduleCommands,
  registerNotifyCommands,
];

const io = processIO();

async function main(): Promise<void> {
  // stdout is for results only: start-up messages (e.g. a generated admin password) go to stderr.
  console.log = console.info = console.error;
  // A failure this command announced (a backup that failed) goes out now if it can.
  const code = await deliveringAnnouncements(() => runCli(process.argv.slice(2), io, commandGroups), { db: getDb, config: getConfig });
  // Start-up recovery and retention run in the background; let them finish before closing.
  await startupSettled();
  closeDatabase();
  process.stdin.destroy();
  process.exitCode = code;
}

main().catch((err: unknown) => {
  process.exitCode = reportError(io, err);
});
