/**
 * The commander program shared by the entry point (server/cli.ts) and in-process tests:
 * global options, output routed through CliIO, usage errors thrown instead of exiting so
 * one place (reportError) decides the exit code.
 */
import { Command } from "commander";
import { reportError, type CliIO, type RegisterCommands } from "./io";

export function buildProgram(io: CliIO, groups: readonly RegisterCommands[]): Command {
  // Configured before the groups register: subcommands copy these settings when created.
  const program = new Command("baluhost")
    .usage("[--json] <command> [options]")
    .description("Manage a BaluHost server from the command line. Works while the web server is stopped.")
    .option("--json", "print results as JSON")
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });
  for (const register of groups) register(program, io);
  return program;
}

/** Parses and runs one command line (without the node and script arguments); returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIO, groups: readonly RegisterCommands[]): Promise<number> {
  try {
    await buildProgram(io, groups).parseAsync([...argv], { from: "user" });
    return 0;
  } catch (err) {
    return reportError(io, err);
  }
}
