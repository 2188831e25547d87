/**
 * `backup remote ...`: offsite targets and what they hold, from a shell. The services in
 * server/backup/targets/ do the work and the auditing; this file parses, calls and prints.
 *
 * Keys never come from argv (they would show in `ps` and the shell history): `remote add`
 * reads them from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the variables named with
 * --access-key-env / --secret-key-env). A TARGET is a saved target's name or id, or, on a
 * fresh machine with no saved target, an s3:// URL read with the keys and endpoint from the
 * environment (see sourceFromUrl).
 */
import { InvalidArgumentError, type Command } from "commander";
import { formatBytes } from "@/lib/format";
import { AppError } from "../errors";
import { drainOffsiteQueue, requestCopy } from "../backup/targets/copy-queue";
import { testTargetConnection } from "../backup/targets/connection";
import { allCopyStates, copyStates, type CopyState } from "../backup/targets/copy-states";
import { deleteRemoteBackup, importRemoteBackup, listRemote, savedSource, sourceFromUrl, verifyRemoteBackup, type RemoteSource } from "../backup/targets/remote";
import { createTarget, findTarget, listTargets, removeTarget, type TargetRecord } from "../backup/targets/targets";
import { startupSettled } from "../startup";
import { CliExit, EXIT_FAILURE, EXIT_USAGE, formatTable, localTime, printResult, startCommand, type CliContext, type CliIO } from "./io";
import { keysFromOptions, withKeyOptions, type KeyOptions } from "./encryption";

function wholeNumber(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError("a positive whole number");
  return n;
}

/** A saved target (name or id) or an s3:// URL with keys from the environment. */
async function resolveSource(ctx: CliContext, target: string): Promise<RemoteSource & { targetId?: number; filename?: string | null }> {
  if (target.startsWith("s3://")) return sourceFromUrl(target, ctx.io.env);
  return savedSource(ctx.db, ctx.config, target);
}

function targetLine(t: TargetRecord): string[] {
  const keep = [t.keep_count !== null ? `${t.keep_count} copies` : null, t.keep_days !== null ? `${t.keep_days} days` : null].filter(Boolean).join(", ") || "all";
  const test = t.last_test_at ? (t.last_test_ok ? "ok" : `FAILED: ${t.last_test_error}`) : "not tested";
  return [String(t.id), t.name, t.location, t.enabled ? "on" : "off", keep, test];
}

export function registerOffsiteCommands(backup: Command, io: CliIO): void {
  const remote = backup.command("remote").description("offsite copies on S3-compatible storage: targets, what they hold, import and restore from them");

  remote
    .command("targets")
    .description("list offsite targets (keys are never shown)")
    .action((_options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      const targets = listTargets(ctx.db);
      printResult(
        ctx,
        targets.length ? formatTable(["ID", "NAME", "WHERE", "ENABLED", "KEEPS", "LAST TEST"], targets.map(targetLine)) : "no offsite targets — add one with: backup remote add",
        targets,
      );
    });

  remote
    .command("add")
    .description("add an S3-compatible target; keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (never from argv)")
    .requiredOption("--name <name>", "the target's name")
    .requiredOption("--bucket <bucket>", "the bucket (it must exist)")
    .option("--endpoint <url>", "the server's URL (leave out for AWS S3), e.g. https://s3.eu-central-003.backblazeb2.com")
    .option("--region <region>", "the region", "us-east-1")
    .option("--prefix <prefix>", "folder inside the bucket", "")
    .option("--path-style", "path-style URLs (Ceph, MinIO, Garage)")
    .option("--storage-class <class>", "e.g. STANDARD_IA (AWS)")
    .option("--keep-count <n>", "keep at most this many copies on the target", wholeNumber)
    .option("--keep-days <n>", "delete copies older than this many days from the target", wholeNumber)
    .option("--disabled", "save it switched off")
    .option("--access-key-env <variable>", "read the access key from this variable", "AWS_ACCESS_KEY_ID")
    .option("--secret-key-env <variable>", "read the secret key from this variable", "AWS_SECRET_ACCESS_KEY")
    .action(
      async (
        o: {
          name: string;
          bucket: string;
          endpoint?: string;
          region: string;
          prefix: string;
          pathStyle?: boolean;
          storageClass?: string;
          keepCount?: number;
          keepDays?: number;
          disabled?: boolean;
          accessKeyEnv: string;
          secretKeyEnv: string;
        },
        command: Command,
      ) => {
        const ctx = startCommand(io, command);
        const accessKey = io.env[o.accessKeyEnv];
        const secretKey = io.env[o.secretKeyEnv];
        if (!accessKey || !secretKey) throw new AppError("BAD_REQUEST", `Set ${o.accessKeyEnv} and ${o.secretKeyEnv} to the target's keys; they are read from the environment, never from the command line.`);
        const created = await createTarget({
          db: ctx.db,
          config: ctx.config,
          actor: ctx.actor,
          input: {
            name: o.name,
            bucket: o.bucket,
            endpoint: o.endpoint ?? "",
            region: o.region,
            prefix: o.prefix,
            force_path_style: Boolean(o.pathStyle),
            storage_class: o.storageClass ?? null,
            enabled: !o.disabled,
            keep_count: o.keepCount ?? null,
            keep_days: o.keepDays ?? null,
            access_key_id: accessKey,
            secret_access_key: secretKey,
          },
        });
        printResult(ctx, `added target ${created.id} (${created.name}) → ${created.location}; try it with: backup remote test ${created.id}`, created);
      },
    );

  remote
    .command("test")
    .description("write, read back and delete a small object on a target; exits 1 with the cause when it fails")
    .argument("<target>", "target name or id")
    .action(async (target: string, _options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      const row = findTarget(ctx.db, target);
      const result = await testTargetConnection({ db: ctx.db, config: ctx.config, actor: ctx.actor, id: row.id });
      if (!result.ok) {
        if (ctx.json) printResult(ctx, "", { target_id: row.id, ...result });
        throw new CliExit(EXIT_FAILURE, `"${row.name}" failed at ${result.failed_step} (${result.failure_kind}): ${result.error}`);
      }
      printResult(ctx, `ok: "${row.name}" can write, read and delete (${result.duration_ms} ms)`, { target_id: row.id, ...result });
    });

  remote
    .command("remove")
    .description("remove a target and its saved keys (what is in the bucket stays there)")
    .argument("<target>", "target name or id")
    .action(async (target: string, _options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      const removed = await removeTarget({ db: ctx.db, config: ctx.config, actor: ctx.actor, id: findTarget(ctx.db, target).id });
      printResult(ctx, `removed target ${removed.id} (${removed.name}); its copies stay in the bucket`, removed);
    });

  remote
    .command("list")
    .description("list the backups a target holds, read from the bucket (works without the local catalog)")
    .argument("<target>", "target name or id, or s3://BUCKET/PREFIX with keys in the environment")
    .action(async (target: string, _options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      const source = await resolveSource(ctx, target);
      const entries = await listRemote(source, ctx.db);
      printResult(
        ctx,
        entries.length
          ? formatTable(
              ["FILE", "TYPE", "CREATED", "SIZE", "PARENT", "HERE"],
              entries.map((e) => [e.filename, e.backup_type ?? "?", localTime(e.created_at ?? e.last_modified), formatBytes(e.size_bytes), e.parent ?? "", e.local_backup_id ? `backup ${e.local_backup_id}` : ""]),
            )
          : `${source.target.name} holds no backups`,
        entries,
      );
    });

  remote
    .command("push")
    .description("copy a backup to every enabled target (or one) now, in this process, and wait until it is verified")
    .argument("<id>", "backup id", wholeNumber)
    .option("--target <target>", "only this target (name or id)")
    .action(async (id: number, o: { target?: string }, command: Command) => {
      const ctx = startCommand(io, command);
      await startupSettled();
      requestCopy({ db: ctx.db, actor: ctx.actor, backupId: id, targetId: o.target ? findTarget(ctx.db, o.target).id : undefined });
      await drainOffsiteQueue({ db: ctx.db, config: ctx.config });
      const states = copyStates(ctx.db, id);
      printResult(ctx, states.map((s) => `${s.target_name}: ${s.status}${s.error ? ` (${s.error})` : ""}`).join("\n"), states);
      if (states.some((s) => s.status !== "verified")) throw new CliExit(EXIT_FAILURE, `backup ${id} is not copied everywhere yet`);
    });

  remote
    .command("status")
    .description("each backup's offsite copies: queued, uploading (with progress), verified, failed (with the reason) or removed")
    .argument("[id]", "only this backup", wholeNumber)
    .action((id: number | undefined, _options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      const states = id === undefined ? allCopyStates(ctx.db) : copyStates(ctx.db, id);
      const progress = (s: CopyState) => (s.status === "uploading" && s.bytes_total > 0 ? ` ${Math.floor((100 * s.bytes_done) / s.bytes_total)}%` : "");
      printResult(
        ctx,
        states.length
          ? formatTable(
              ["BACKUP", "TARGET", "STATE", "ATTEMPTS", "DETAIL"],
              states.map((s) => [String(s.backup_id), s.target_name, `${s.status}${progress(s)}`, String(s.attempts), s.error ?? s.verified_at ?? ""]),
            )
          : "no offsite copies yet",
        states,
      );
    });

  remote
    .command("verify")
    .description("read a remote backup back and check it against its stored SHA-256; exits 1 when it does not match")
    .argument("<target>", "target name or id, or s3://BUCKET/PREFIX")
    .argument("<file>", "the backup's file name (see `backup remote list`)")
    .action(async (target: string, file: string, _options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      const source = await resolveSource(ctx, target);
      const result = await verifyRemoteBackup({ db: ctx.db, actor: ctx.actor, source, filename: file, targetId: source.targetId });
      if (!result.ok) throw new CliExit(EXIT_FAILURE, `${file} FAILED: ${result.error}`);
      printResult(ctx, `ok: ${file} matches its checksum`, { filename: file, ...result });
    });

  withKeyOptions(remote
    .command("import"))
    .description("download a remote backup (and the older ones its chain needs) into the backup list, checked and verified")
    .argument("<target>", "target name or id, or s3://BUCKET/PREFIX")
    .argument("<file>", "the backup's file name (see `backup remote list`)")
    .action(async (target: string, file: string, options: KeyOptions, command: Command) => {
      const ctx = startCommand(io, command);
      await startupSettled();
      const source = await resolveSource(ctx, target);
      const rows = await importRemoteBackup({ db: ctx.db, config: ctx.config, actor: ctx.actor, source, filename: file, keys: keysFromOptions(options) });
      const last = rows[rows.length - 1]!;
      printResult(ctx, `imported ${file} as backup ${last.id} (${last.filename}); restore it with: backup restore ${last.id} --yes`, { ids: rows.map((r) => r.id) });
    });

  remote
    .command("delete")
    .description("delete a backup from a target (refused while a remote incremental builds on it)")
    .argument("<target>", "target name or id, or s3://BUCKET/PREFIX")
    .argument("<file>", "the backup's file name")
    .option("--yes", "confirm the deletion")
    .action(async (target: string, file: string, o: { yes?: boolean }, command: Command) => {
      if (!o.yes) throw new CliExit(EXIT_USAGE, `deleting ${file} from the target cannot be undone; run it again with --yes`);
      const ctx = startCommand(io, command);
      const source = await resolveSource(ctx, target);
      await deleteRemoteBackup({ db: ctx.db, actor: ctx.actor, source, filename: file, targetId: source.targetId });
      printResult(ctx, `deleted ${file} from ${source.target.name}`, { filename: file, deleted: true });
    });
}
