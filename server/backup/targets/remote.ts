/**
 * What a target holds, read from the bucket itself (the disaster case: the local catalog may
 * be gone): list, check, delete, the target's own retention, and bringing an archive back
 * (streamed download checked against the SHA-256 it carries, then the ordinary import, which
 * verifies it like any upload) to restore it.
 *
 * Invariants:
 *   - The bucket is the truth: nothing here needs a local row. An archive's type, parent and
 *     checksum come from its object metadata (s3.ts), written by the copier.
 *   - Objects without our metadata (put there by someone else) are listed but never deleted
 *     by retention.
 *   - The chain rule holds remotely: retention never deletes an archive that a kept remote
 *     incremental builds on, and an admin's delete of such an archive is refused (409).
 *   - A download that does not match its checksum is refused and removed; nothing reaches
 *     the catalog unless it matched and then passed the import's own verification.
 */
import fs from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { and, eq, inArray } from "drizzle-orm";
import type { AgeKeys } from "../crypto";
import { z } from "zod";
import type { AppDatabase } from "@/db/client";
import { backups, offsiteCopies, type Backup } from "@/db/schema";
import { recordAudit, SYSTEM_ACTOR, type Actor } from "../../audit";
import type { AppConfig } from "../../config";
import { AppError, describeError } from "../../errors";
import { formatBytes } from "@/lib/format";
import { freeBytes } from "../fs-safe";
import { importBackup, incomingBaseName } from "../import";
import { restoreBackup, type RestoreOutcome, type RestoreParts } from "../restore/restore";
import { describeS3Error, fromObjectMetadata, manifestKey, MANIFEST_SUFFIX, REMOTE_ARCHIVE_PATTERN, remoteKey, s3Client, type RemoteMeta, type TargetEndpoint } from "./s3";
import { hashStream, Sha256Meter } from "./sha256-stream";
import { findTarget, targetCredentials, type S3Credentials } from "./targets";

/** A target to read from: a saved one, or (a fresh machine) an s3:// URL with keys from the environment. */
export interface RemoteSource {
  target: TargetEndpoint;
  credentials: S3Credentials;
}

export const remoteBackupSchema = z.object({
  filename: z.string(),
  key: z.string(),
  size_bytes: z.number(),
  last_modified: z.string().nullable(),
  /** From the object's metadata; null for an object this app did not put there. */
  sha256: z.string().nullable(),
  backup_type: z.string().nullable(),
  parent: z.string().nullable(),
  created_at: z.string().nullable(),
  has_manifest: z.boolean(),
  /** The local backup with the same SHA-256, if the catalog has one. */
  local_backup_id: z.number().nullable(),
});
export type RemoteBackup = z.output<typeof remoteBackupSchema>;

function checksumMismatch(what: string, expected: { sha256: string; size: number }, got: { sha256: string; bytes: number }): AppError {
  return new AppError(
    "ARCHIVE_INVALID",
    `${what} does not match its checksum: ${got.bytes} bytes with SHA-256 ${got.sha256.slice(0, 16)}…, expected ${expected.size} bytes with ` +
      `${expected.sha256.slice(0, 16)}…. The copy in the bucket is damaged: copy the backup again (Retry) or use another copy.`,
    { details: { remote: true } },
  );
}

/**
 * Reads an object back and checks its size, the SHA-256 in its metadata and the SHA-256 of
 * its bytes against what is expected. Streamed: nothing is held but the hash.
 */
export async function readBackRemote(client: S3Client, target: TargetEndpoint, key: string, expected: { sha256: string; size: number }): Promise<void> {
  const what = `The copy s3://${target.bucket}/${key}`;
  const head = await client.send(new HeadObjectCommand({ Bucket: target.bucket, Key: key }));
  const meta = fromObjectMetadata(head.Metadata);
  if (head.ContentLength !== expected.size || meta?.sha256 !== expected.sha256) {
    throw new AppError(
      "ARCHIVE_INVALID",
      `${what} is ${head.ContentLength} bytes with checksum ${meta?.sha256?.slice(0, 16) ?? "(none)"}…, expected ${expected.size} bytes with ${expected.sha256.slice(0, 16)}…: it is not this backup.`,
      { details: { remote: true } },
    );
  }
  const got = await client.send(new GetObjectCommand({ Bucket: target.bucket, Key: key }));
  const read = await hashStream(got.Body as NodeJS.ReadableStream);
  if (read.sha256 !== expected.sha256 || read.bytes !== expected.size) throw checksumMismatch(what, expected, read);
}

/** Every archive under the target's prefix, with the metadata it carries (one HEAD each, a few at a time). */
export async function listRemote(source: RemoteSource, db?: AppDatabase): Promise<RemoteBackup[]> {
  const { target, credentials } = source;
  const client = s3Client(target, credentials);
  try {
    const prefix = target.prefix ? `${target.prefix}/` : "";
    const names = new Map<string, { key: string; size: number; lastModified: Date | null }>();
    const manifests = new Set<string>();
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: target.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        const name = o.Key?.slice(prefix.length) ?? "";
        if (name.endsWith(MANIFEST_SUFFIX)) manifests.add(name.slice(0, -MANIFEST_SUFFIX.length));
        else if (REMOTE_ARCHIVE_PATTERN.test(name)) names.set(name, { key: o.Key!, size: o.Size ?? 0, lastModified: o.LastModified ?? null });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const entries = [...names.entries()];
    const out: RemoteBackup[] = [];
    for (let i = 0; i < entries.length; i += 8) {
      const heads = await Promise.all(
        entries.slice(i, i + 8).map(async ([filename, o]) => {
          const head = await client.send(new HeadObjectCommand({ Bucket: target.bucket, Key: o.key }));
          const meta = fromObjectMetadata(head.Metadata);
          const local = meta && db ? db.select({ id: backups.id }).from(backups).where(eq(backups.sha256, meta.sha256)).get() : undefined;
          return {
            filename,
            key: o.key,
            size_bytes: o.size,
            last_modified: o.lastModified?.toISOString() ?? null,
            sha256: meta?.sha256 ?? null,
            backup_type: meta?.backupType ?? null,
            parent: meta?.parent ?? null,
            created_at: meta?.createdAt || null,
            has_manifest: manifests.has(filename),
            local_backup_id: local?.id ?? null,
          } satisfies RemoteBackup;
        }),
      );
      out.push(...heads);
    }
    return out.sort((a, b) => (b.created_at ?? b.filename).localeCompare(a.created_at ?? a.filename));
  } catch (err) {
    throw asAppError(err, source);
  } finally {
    client.destroy();
  }
}

/** An S3 failure as an AppError whose message names the cause (keys redacted). */
export function asAppError(err: unknown, source: RemoteSource): unknown {
  if (err instanceof AppError) return err;
  const failure = describeS3Error(err, source.target, source.credentials);
  const code = failure.kind === "not_found" ? "NOT_FOUND" : failure.kind === "bucket" ? "NOT_FOUND" : "CONFLICT";
  return new AppError(code, failure.message);
}

export interface RemoteRetentionRules {
  keepCount: number | null;
  keepDays: number | null;
}

/**
 * Which of a target's archives retention removes: those outside the newest keep_count or
 * older than keep_days, except the newest one, anything a kept incremental builds on, and
 * objects without our metadata. Pure, so the rule is tested without a bucket.
 */
export function remoteRetentionPlan(entries: RemoteBackup[], rules: RemoteRetentionRules, now: Date): { keep: RemoteBackup[]; remove: RemoteBackup[] } {
  const ours = entries.filter((e) => e.sha256 !== null);
  if (rules.keepCount === null && rules.keepDays === null) return { keep: entries, remove: [] };
  const madeAt = (e: RemoteBackup) => Date.parse(e.created_at ?? e.last_modified ?? "") || 0;
  const newestFirst = [...ours].sort((a, b) => madeAt(b) - madeAt(a));
  const byName = new Map(ours.map((e) => [e.filename, e]));
  const kept = new Set<string>();
  newestFirst.forEach((e, i) => {
    const withinCount = rules.keepCount === null || i < rules.keepCount;
    const withinAge = rules.keepDays === null || now.getTime() - madeAt(e) < rules.keepDays * 86_400_000;
    if (i === 0 || (withinCount && withinAge)) kept.add(e.filename);
  });
  // Chain rule: a kept incremental keeps what it builds on, transitively.
  for (const name of [...kept]) {
    for (let parent = byName.get(name)?.parent; parent && !kept.has(parent); parent = byName.get(parent)?.parent) {
      if (byName.has(parent)) kept.add(parent);
    }
  }
  return {
    keep: entries.filter((e) => e.sha256 === null || kept.has(e.filename)),
    remove: newestFirst.filter((e) => !kept.has(e.filename)),
  };
}

async function deleteObjects(client: S3Client, bucket: string, keys: string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    const res = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } }));
    if (res.Errors?.length) throw new Error(`the server refused to delete ${res.Errors.map((e) => `${e.Key} (${e.Code})`).join(", ")}`);
  }
}

/** The queue rows of copies that are gone from the bucket: shown as removed, and not copied again by themselves. */
function markRemoved(db: AppDatabase, targetId: number | undefined, entries: RemoteBackup[]): void {
  if (targetId === undefined || entries.length === 0) return;
  db.update(offsiteCopies)
    .set({ status: "removed", updatedAt: new Date() })
    .where(and(eq(offsiteCopies.targetId, targetId), inArray(offsiteCopies.remoteKey, entries.map((e) => e.key))))
    .run();
}

/** Applies a saved target's keep_count / keep_days to what the bucket holds; returns what was removed. */
export async function applyRemoteRetention(opts: {
  db: AppDatabase;
  config: AppConfig;
  target: TargetEndpoint & { id?: number; keepCount: number | null; keepDays: number | null };
  credentials: S3Credentials;
  now?: Date;
}): Promise<RemoteBackup[]> {
  const { db, target, credentials } = opts;
  if (target.keepCount === null && target.keepDays === null) return [];
  const entries = await listRemote({ target, credentials });
  const { remove } = remoteRetentionPlan(entries, target, opts.now ?? new Date());
  if (remove.length === 0) return [];
  const client = s3Client(target, credentials);
  try {
    await deleteObjects(client, target.bucket, remove.flatMap((e) => [e.key, manifestKey(e.key)]));
  } finally {
    client.destroy();
  }
  markRemoved(db, target.id, remove);
  for (const e of remove) {
    recordAudit(db, {
      action: "offsite.retention_delete",
      actor: SYSTEM_ACTOR,
      resource: target.id !== undefined ? `offsite_target:${target.id}` : null,
      success: true,
      details: { target: target.name, filename: e.filename, size_bytes: e.size_bytes },
    });
  }
  return remove;
}

/** An admin's delete of one remote archive (and its manifest); refused while a remote incremental builds on it. */
export async function deleteRemoteBackup(opts: { db: AppDatabase; actor: Actor; source: RemoteSource; filename: string; targetId?: number }): Promise<void> {
  const { db, actor, source, filename } = opts;
  try {
    const entries = await listRemote(source);
    const entry = entries.find((e) => e.filename === filename);
    if (!entry) throw new AppError("NOT_FOUND", `There is no ${filename} in s3://${source.target.bucket}/${source.target.prefix}.`);
    const dependents = entries.filter((e) => e.parent === filename);
    if (dependents.length) {
      throw new AppError(
        "CONFLICT",
        `${filename} is the base of the remote incremental backup${dependents.length > 1 ? "s" : ""} ${dependents.map((d) => d.filename).join(", ")}, ` +
          "which cannot be restored without it. Delete those first.",
      );
    }
    const client = s3Client(source.target, source.credentials);
    try {
      await deleteObjects(client, source.target.bucket, [entry.key, manifestKey(entry.key)]);
    } finally {
      client.destroy();
    }
    markRemoved(db, opts.targetId, [entry]);
    recordAudit(db, {
      action: "offsite.remote_delete",
      actor,
      resource: opts.targetId !== undefined ? `offsite_target:${opts.targetId}` : null,
      success: true,
      details: { target: source.target.name, filename, size_bytes: entry.size_bytes },
    });
  } catch (err) {
    const error = asAppError(err, source);
    recordAudit(db, { action: "offsite.remote_delete", actor, success: false, errorMessage: describeError(error), details: { target: source.target.name, filename } });
    throw error;
  }
}

/** Reads one remote archive back and checks it against its metadata: the "is my offsite copy still good" question. Audited. */
export async function verifyRemoteBackup(opts: {
  db: AppDatabase;
  actor: Actor;
  source: RemoteSource;
  filename: string;
  targetId?: number;
}): Promise<{ ok: boolean; error: string | null }> {
  const { source, filename } = opts;
  const client = s3Client(source.target, source.credentials);
  const key = remoteKey(source.target, filename);
  let result: { ok: boolean; error: string | null };
  try {
    const head = await client.send(new HeadObjectCommand({ Bucket: source.target.bucket, Key: key }));
    const meta = fromObjectMetadata(head.Metadata);
    if (!meta) result = { ok: false, error: `${filename} carries no checksum (it was not put there by BaluHost): it cannot be checked.` };
    else {
      await readBackRemote(client, source.target, key, { sha256: meta.sha256, size: meta.size });
      result = { ok: true, error: null };
    }
  } catch (err) {
    result = { ok: false, error: describeError(asAppError(err, source)) };
  } finally {
    client.destroy();
  }
  recordAudit(opts.db, {
    action: "offsite.remote_verify",
    actor: opts.actor,
    resource: opts.targetId !== undefined ? `offsite_target:${opts.targetId}` : null,
    success: result.ok,
    errorMessage: result.error,
    details: { target: source.target.name, filename },
  });
  return result;
}

async function headMeta(client: S3Client, source: RemoteSource, filename: string): Promise<RemoteMeta> {
  if (!REMOTE_ARCHIVE_PATTERN.test(filename)) throw new AppError("BAD_REQUEST", `"${filename}" is not a backup archive name (backup_YYYYMMDD_HHMMSS.tar.gz).`);
  try {
    const head = await client.send(new HeadObjectCommand({ Bucket: source.target.bucket, Key: remoteKey(source.target, filename) }));
    const meta = fromObjectMetadata(head.Metadata);
    if (!meta) throw new AppError("ARCHIVE_INVALID", `${filename} carries no checksum (it was not put there by BaluHost): download it and import the file instead.`);
    return meta;
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) {
      throw new AppError("NOT_FOUND", `There is no ${filename} in s3://${source.target.bucket}/${source.target.prefix}. List the target to see what it holds.`);
    }
    throw asAppError(err, source);
  }
}

/** The archives to bring back for one: itself and, for an incremental, what it builds on that the catalog lacks (oldest first). */
async function remoteChain(client: S3Client, db: AppDatabase, source: RemoteSource, filename: string): Promise<{ filename: string; meta: RemoteMeta; local: Backup | null }[]> {
  const chain: { filename: string; meta: RemoteMeta; local: Backup | null }[] = [];
  for (let name: string | null = filename; name; ) {
    if (chain.length > 1000) throw new AppError("ARCHIVE_INVALID", `The chain of ${filename} does not end: its parents name each other.`);
    const meta = await headMeta(client, source, name);
    const local = db.select().from(backups).where(eq(backups.sha256, meta.sha256)).get() ?? null;
    chain.unshift({ filename: name, meta, local });
    name = local || meta.backupType !== "incremental" ? null : meta.parent;
  }
  return chain;
}

/**
 * Downloads a remote archive (with the older ones of its chain that are not here) into the
 * catalog: each is streamed to a temporary file in the backup folder while hashed, refused
 * unless size and SHA-256 match its metadata, then imported (verified like an upload).
 * Returns the catalog rows, the requested archive last.
 */
export async function importRemoteBackup(opts: {
  db: AppDatabase;
  config: AppConfig;
  actor: Actor;
  source: RemoteSource;
  filename: string;
  /** For encrypted archives: the key given for this operation (the server's own are tried too). */
  keys?: AgeKeys;
}): Promise<Backup[]> {
  const { db, config, actor, source } = opts;
  const client = s3Client(source.target, source.credentials);
  try {
    const chain = await remoteChain(client, db, source, opts.filename);
    const rows: Backup[] = [];
    for (const link of chain) {
      if (link.local) {
        rows.push(link.local);
        continue;
      }
      rows.push(await downloadAndImport({ db, config, actor, client, source, keys: opts.keys, ...link }));
    }
    return rows;
  } catch (err) {
    const error = asAppError(err, source);
    recordAudit(db, { action: "offsite.import", actor, success: false, errorMessage: describeError(error), details: { target: source.target.name, filename: opts.filename } });
    throw error;
  } finally {
    client.destroy();
  }
}

async function downloadAndImport(opts: {
  db: AppDatabase;
  config: AppConfig;
  actor: Actor;
  client: S3Client;
  source: RemoteSource;
  filename: string;
  meta: RemoteMeta;
  keys?: AgeKeys;
}): Promise<Backup> {
  const { db, config, actor, client, source, filename, meta } = opts;
  await fs.promises.mkdir(config.backupPath, { recursive: true });
  // The download and the import's own copy exist together for a moment.
  const available = await freeBytes(config.backupPath);
  if (available < meta.size * 2 + 64 * 1024 * 1024) {
    throw new AppError("INSUFFICIENT_SPACE", `Not enough free space in the backup folder to bring back ${filename} (${formatBytes(meta.size)}, twice that while it is imported; ${formatBytes(available)} free).`);
  }
  // An .incoming-* name: a process killed mid-download leaves a file the next start removes.
  const tmp = path.join(config.backupPath, `${incomingBaseName()}.partial`);
  const url = `s3://${source.target.bucket}/${remoteKey(source.target, filename)}`;
  try {
    const got = await client.send(new GetObjectCommand({ Bucket: source.target.bucket, Key: remoteKey(source.target, filename) }));
    const hasher = new Sha256Meter();
    await pipeline(got.Body as NodeJS.ReadableStream, hasher, fs.createWriteStream(tmp, { flags: "wx", mode: 0o600 }));
    const sha256 = hasher.hash.digest("hex");
    if (sha256 !== meta.sha256 || hasher.bytes !== meta.size) throw checksumMismatch(`The download of ${url}`, meta, { sha256, bytes: hasher.bytes });
    const row = await importBackup({ db, config, actor, source: { path: tmp }, origin: "imported", originalName: url, keys: opts.keys });
    recordAudit(db, {
      action: "offsite.import",
      actor,
      resource: `backup:${row.id}`,
      success: true,
      details: { target: source.target.name, filename, imported_as: row.filename, size_bytes: meta.size },
    });
    return row;
  } finally {
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
  }
}

/** Brings a remote archive (and its chain) into the catalog, then restores it like any backup. */
export async function restoreRemoteBackup(opts: {
  db: AppDatabase;
  config: AppConfig;
  actor: Actor;
  source: RemoteSource;
  filename: string;
  /** The parts, or how to choose them once the backup is in the catalog (the API's defaults follow the backup). */
  parts: RestoreParts | ((row: Backup) => RestoreParts);
  confirm: boolean;
  keys?: AgeKeys;
}): Promise<RestoreOutcome & { imported: number[] }> {
  if (!opts.confirm) throw new AppError("BAD_REQUEST", "A restore replaces the current data: confirm it (confirm: true, CLI --yes).");
  const rows = await importRemoteBackup(opts);
  const target = rows[rows.length - 1]!;
  const parts = typeof opts.parts === "function" ? opts.parts(target) : opts.parts;
  const outcome = await restoreBackup({ db: opts.db, config: opts.config, actor: opts.actor, backupId: target.id, parts, confirm: true, keys: opts.keys });
  return { ...outcome, imported: rows.map((r) => r.id) };
}

/** A saved target as a source (its keys from the secrets folder). */
export async function savedSource(db: AppDatabase, config: AppConfig, idOrName: string | number): Promise<RemoteSource & { targetId: number }> {
  const row = findTarget(db, String(idOrName));
  return { target: row, credentials: await targetCredentials(config, row), targetId: row.id };
}

/**
 * `s3://BUCKET/PREFIX[/backup_….tar.gz]` with the keys and endpoint from the environment, for a
 * fresh machine with no saved target: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION
 * (default us-east-1), AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (empty = AWS), and
 * S3_FORCE_PATH_STYLE (default on when an endpoint is given, as Ceph, MinIO and Garage need).
 */
export function sourceFromUrl(url: string, env: Record<string, string | undefined> = process.env): RemoteSource & { filename: string | null } {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (!m) throw new AppError("BAD_REQUEST", `"${url}" is not an s3:// URL (s3://BUCKET/PREFIX/backup_….tar.gz).`);
  const bucket = m[1]!;
  let rest = (m[2] ?? "").replace(/\/+$/, "");
  let filename: string | null = null;
  const last = rest.split("/").pop() ?? "";
  if (REMOTE_ARCHIVE_PATTERN.test(last)) {
    filename = last;
    rest = rest.slice(0, -last.length).replace(/\/+$/, "");
  }
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new AppError("BAD_REQUEST", "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT_URL for a server other than AWS S3) to read from an s3:// URL.");
  }
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || "";
  if (endpoint && !URL.canParse(endpoint)) throw new AppError("BAD_REQUEST", `AWS_ENDPOINT_URL "${endpoint}" is not a URL.`);
  const pathStyle = env.S3_FORCE_PATH_STYLE;
  return {
    target: {
      name: `s3://${bucket}${rest ? `/${rest}` : ""}`,
      endpoint,
      region: env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1",
      bucket,
      prefix: rest,
      forcePathStyle: pathStyle ? pathStyle === "1" || pathStyle === "true" : Boolean(endpoint),
    },
    credentials: { accessKeyId, secretAccessKey },
    filename,
  };
}
