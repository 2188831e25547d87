/**
 * The offsite operations as the doors call them (tRPC, REST, UI), by saved target id, with
 * the zod contract they share. The CLI calls the same functions, or the ones in remote.ts
 * directly when it reads an s3:// URL with keys from the environment.
 */
import { z } from "zod";
import type { AppDatabase } from "@/db/client";
import type { Actor } from "../../audit";
import type { AppConfig } from "../../config";
import { archiveKeyFields, restorePartsFor, restoreOutcomeSchema, toBackupRecord, backupRecordSchema } from "../contract";
import { givenKeys } from "../encryption";
import { deleteRemoteBackup, importRemoteBackup, listRemote, restoreRemoteBackup, savedSource, verifyRemoteBackup, type RemoteBackup } from "./remote";
import { REMOTE_ARCHIVE_PATTERN } from "./s3";

export const remoteFileInput = z.object({
  target_id: z.number().int().positive(),
  filename: z.string().regex(REMOTE_ARCHIVE_PATTERN, "A backup file name: backup_YYYYMMDD_HHMMSS.tar.gz (or .tar.gz.age)"),
});
export type RemoteFileInput = z.output<typeof remoteFileInput>;

/** Bringing a backup back: an encrypted one may need its key (never stored), as an upload does. */
export const remoteImportInput = remoteFileInput.extend(archiveKeyFields);

export const remoteRestoreInput = remoteImportInput.extend({
  restore_database: z.boolean().optional(),
  restore_files: z.boolean().optional(),
  restore_config: z.boolean().optional(),
  confirm: z.boolean().default(false),
});

export const remoteImportOutput = z.object({ backups: z.array(backupRecordSchema) });
export const remoteRestoreOutput = restoreOutcomeSchema.extend({ imported: z.array(z.number()) });
export const remoteVerifyOutput = z.object({ ok: z.boolean(), error: z.string().nullable() });

type Ctx = { db: AppDatabase; config: AppConfig };

export async function listTargetBackups(opts: Ctx & { targetId: number }): Promise<RemoteBackup[]> {
  return listRemote(await savedSource(opts.db, opts.config, opts.targetId), opts.db);
}

export async function importFromTarget(opts: Ctx & { actor: Actor; input: z.output<typeof remoteImportInput> }) {
  const source = await savedSource(opts.db, opts.config, opts.input.target_id);
  const rows = await importRemoteBackup({ ...opts, source, filename: opts.input.filename, keys: givenKeys(opts.input) });
  return { backups: rows.map((r) => toBackupRecord(r)) };
}

export async function restoreFromTarget(opts: Ctx & { actor: Actor; input: z.output<typeof remoteRestoreInput> }) {
  const { input } = opts;
  const source = await savedSource(opts.db, opts.config, input.target_id);
  return restoreRemoteBackup({ ...opts, source, filename: input.filename, parts: (row) => restorePartsFor(row, input), confirm: input.confirm, keys: givenKeys(input) });
}

export async function verifyOnTarget(opts: Ctx & { actor: Actor; input: RemoteFileInput }) {
  const source = await savedSource(opts.db, opts.config, opts.input.target_id);
  return verifyRemoteBackup({ db: opts.db, actor: opts.actor, source, filename: opts.input.filename, targetId: source.targetId });
}

export async function deleteFromTarget(opts: Ctx & { actor: Actor; input: RemoteFileInput }): Promise<void> {
  const source = await savedSource(opts.db, opts.config, opts.input.target_id);
  await deleteRemoteBackup({ db: opts.db, actor: opts.actor, source, filename: opts.input.filename, targetId: source.targetId });
}
