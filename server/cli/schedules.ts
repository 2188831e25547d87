/**
 * `schedule ...` commands: list, add and remove backup plans, and run one now, from a
 * shell (the web server may be stopped). The plan service audits every change with the
 * CLI actor; this file parses, calls and prints.
 *
 * `schedule run` runs the plan's backup in this process, waits for it, verifies it and
 * records the result on the plan, like a scheduled run; the exit code is 1 when it failed.
 * The schedule itself is kept by the web server: the CLI never runs the scheduler.
 */
import { InvalidArgumentError, Option, type Command } from "commander";
import { PLAN_BACKUP_TYPES, type PlanBackupType } from "@/db/schema";
import { formatBytes, pluralize } from "@/lib/format";
import { toBackupRecord } from "../backup/contract";
import { createPlan, deletePlan, findPlan, listPlans, toPlanRecord, type PlanRecord } from "../backup/schedule/plans";
import { runPlanNow } from "../backup/schedule/runs";
import { startupSettled } from "../startup";
import { CliExit, EXIT_FAILURE, EXIT_USAGE, formatTable, localTime, printResult, startCommand, type CliIO } from "./io";

interface AddOptions {
  name: string;
  type: PlanBackupType;
  cron: string;
  timezone?: string;
  config?: boolean;
  fullEvery?: number;
  /** The drill schedule; unset: the default weekly drill. */
  drillCron?: string;
  /** false with --no-drill. */
  drill: boolean;
  disabled?: boolean;
}

export function registerScheduleCommands(program: Command, io: CliIO): void {
  const schedule = program.command("schedule").description("list, add, remove and run backup plans (scheduled backups)");

  schedule
    .command("list")
    .description("list backup plans with their next run and last result")
    .action((_options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      const plans = listPlans(ctx.db);
      const human = plans.length
        ? `${planTable(plans)}\n${pluralize(plans.length, "plan")}`
        : 'no backup plans — add one with: npm run -s cli -- schedule add --name Nightly --type full --cron "0 3 * * *"';
      printResult(ctx, human, { plans });
    });

  schedule
    .command("add")
    .description("add a backup plan")
    .requiredOption("--name <name>", "the plan's name (unique, up to 80 characters)")
    .addOption(new Option("--type <type>", "what each run backs up").choices(PLAN_BACKUP_TYPES).makeOptionMandatory())
    .requiredOption("--cron <expr>", 'when it runs: five cron fields, e.g. "0 3 * * *" (daily at 03:00)')
    .option("--timezone <zone>", "IANA time zone the cron expression is read in (default: this server's)")
    .option("--config", "include the config folder")
    .option("--full-every <n>", "incremental plans: every n-th run is a full backup (2–100)", parseWholeNumber)
    .option("--drill-cron <expr>", 'when to run a restore drill of the newest backup (default "0 4 * * 0", Sundays at 04:00)')
    .option("--no-drill", "no restore drills for this plan")
    .option("--disabled", "add the plan switched off")
    .action((options: AddOptions, command: Command) => {
      if (!options.drill && options.drillCron) throw new CliExit(EXIT_USAGE, "use either --drill-cron or --no-drill, not both");
      const ctx = startCommand(io, command);
      const plan = createPlan({
        db: ctx.db,
        config: ctx.config,
        actor: ctx.actor,
        input: {
          name: options.name,
          backup_type: options.type,
          cron: options.cron,
          timezone: options.timezone,
          include_config: options.config ?? false,
          full_every: options.fullEvery ?? null,
          drill_cron: options.drill ? options.drillCron : null,
          enabled: !options.disabled,
        },
      });
      const record = toPlanRecord(ctx.db, plan);
      printResult(ctx, `added plan ${record.id}: ${record.name} (${record.backup_type}, ${when(record)}); next run ${nextRun(record)}`, record);
    });

  schedule
    .command("remove")
    .description("remove a backup plan (its backups stay)")
    .argument("<plan>", "plan id or name (see `schedule list`)")
    .action((idOrName: string, _options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      const plan = findPlan(ctx.db, idOrName);
      deletePlan({ db: ctx.db, config: ctx.config, actor: ctx.actor, id: plan.id });
      printResult(ctx, `removed plan ${plan.id}: ${plan.name}`, { id: plan.id, name: plan.name, deleted: true });
    });

  schedule
    .command("run")
    .description("run a plan's backup now, wait for it and verify it (the scheduled runs are not affected)")
    .argument("<plan>", "plan id or name (see `schedule list`)")
    .action(async (idOrName: string, _options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      // Start-up recovery sweeps temporary backup files; let it finish before this backup makes some.
      await startupSettled();
      const plan = findPlan(ctx.db, idOrName);
      const { finished } = await runPlanNow({ db: ctx.db, config: ctx.config, actor: ctx.actor, planId: plan.id });
      const result = await finished;
      const backup = result.backup ? toBackupRecord(result.backup) : null;
      if (!result.ok) {
        if (ctx.json) printResult(ctx, "", { plan: plan.name, ok: false, error: result.error, backup });
        throw new CliExit(EXIT_FAILURE, result.error ?? `the run of plan "${plan.name}" failed`);
      }
      printResult(
        ctx,
        `plan ${plan.name}: backup ${backup!.id} ${backup!.filename} (${formatBytes(backup!.size_bytes)}, ${backup!.backup_type}), verified`,
        { plan: plan.name, ok: true, error: null, backup },
      );
    });
}

function parseWholeNumber(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("a whole number, e.g. 7");
  return Number(value);
}

const when = (p: PlanRecord) => `${p.schedule_text === "Custom schedule" ? "" : `${p.schedule_text}, `}"${p.cron}" ${p.timezone}`;
const nextRun = (p: PlanRecord) => (p.enabled ? localTime(p.next_run_at) : "– (disabled)");

function planTable(plans: PlanRecord[]): string {
  const header = ["ID", "NAME", "TYPE", "SCHEDULE", "NEXT RUN", "LAST RESULT"];
  const rows = plans.map((p) => [
    String(p.id),
    p.name,
    p.backup_type + (p.full_every ? ` (full every ${p.full_every})` : ""),
    when(p),
    nextRun(p),
    p.last_result ? `${p.last_result} ${localTime(p.last_run_at)}` : "never ran",
  ]);
  return formatTable(header, rows);
}
