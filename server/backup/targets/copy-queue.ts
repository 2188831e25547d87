/**
 * Offsite copying: an outbox of (backup, target) rows that the web server's timer drains,
 * like the notification sender. After each completed backup (manual or scheduled) one row
 * per enabled target is queued (with the older archives of an incremental's chain, so the
 * remote side can restore it on its own); each row is uploaded, then checked, in the
 * background.
 *
 * Invariants:
 *   - A copy counts (status verified) only after the object was read back from the server
 *     and its size and SHA-256 equal the catalog's; the SHA-256 also travels as object
 *     metadata, so a download anywhere can be checked without the local catalog.
 *   - Streamed: the archive is read once, hashed on the way, and cut into parts by
 *     @aws-sdk/lib-storage; memory is at most part size × parallel parts, whatever the size.
 *   - One process per row: a row is claimed with a conditional UPDATE that counts the
 *     attempt and sets a lease; the lease is renewed while bytes flow, and a process that
 *     loses it stops. A process killed mid-upload leaves the lease to run out; the next
 *     claim continues the multipart upload it left open, keeping the parts the server holds
 *     (multipart-resume.ts), or, when they do not fit (another part size), aborts it and
 *     sends the object again from the start.
 *   - Uploads only read finished archives, so they take no operation lock and run beside
 *     backups and restores. An archive deleted locally while it uploads is still read to
 *     the end (the open file stays readable); its row goes with the backup's.
 *   - Failed attempts retry after 30 s, 2 min, 10 min and 1 h (the SDK also retries each
 *     request); after the 5th the row is failed, announced (offsite_copy_failed) and waits
 *     for an admin's Retry.
 */
import fs from "node:fs";
import { PassThrough } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AbortMultipartUploadCommand, DeleteObjectCommand, ListMultipartUploadsCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { and, eq, gte, inArray, isNull, lte, or, sql } from "drizzle-orm";
import type { AppDatabase } from "@/db/client";
import { backups, offsiteCopies, offsiteTargets, type Backup, type OffsiteCopy, type OffsiteTarget } from "@/db/schema";
import { recordAudit, SYSTEM_ACTOR, type Actor } from "../../audit";
import type { AppConfig } from "../../config";
import { AppError, describeError } from "../../errors";
import { archivePath, getBackupRow, isEncryptedName, manifestCopyPath } from "../catalog";
import { crashPoint } from "../failpoints";
import { announce } from "../notify/announce";
import { applyRemoteRetention, readBackRemote } from "./remote";
import { describeS3Error, manifestKey, remoteKey, s3Client, toObjectMetadata } from "./s3";
import { resumeMultipartUpload } from "./multipart-resume";
import { hashStream, Sha256Meter } from "./sha256-stream";
import { getTargetRow, targetCredentials, type S3Credentials } from "./targets";

/** Wait after the n-th failed attempt (index 0 = after the first). */
export const COPY_RETRY_DELAYS_MS = [30_000, 2 * 60_000, 10 * 60_000, 60 * 60_000] as const;
export const COPY_MAX_ATTEMPTS = COPY_RETRY_DELAYS_MS.length + 1;
/** How long a claim holds without news from its uploader; renewed at least every LEASE_RENEW_MS. */
export const UPLOAD_LEASE_MS = 2 * 60_000;
const LEASE_RENEW_MS = 15_000;
/** Backups copied without being asked: the ones made here. Uploaded, imported and safety backups are copied on request. */
const AUTO_ORIGINS = ["manual", "scheduled"] as const;
export const DEFAULT_PART_BYTES = 16 * 1024 * 1024;
export const DEFAULT_PARALLEL_PARTS = 4;

export interface CopyOptions {
  db: AppDatabase;
  config: AppConfig;
  /** Clock for claims and retry times, so tests drive retries and expired leases without sleeping. */
  now?: Date;
  partBytes?: number;
  parallelParts?: number;
}

export interface DrainResult {
  verified: number;
  retrying: number;
  failed: number;
}

type Listener = () => void;
const listeners = new Set<Listener>();

/** The in-process copier subscribes here to start at once when an admin asks for a copy, instead of at its next tick. */
export function onCopyRequested(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Queues the copies nobody asked for: every completed backup made here since each enabled target was added. */
export function queueNewCopies(db: AppDatabase, now = new Date()): number {
  const targets = db.select().from(offsiteTargets).where(eq(offsiteTargets.enabled, true)).all();
  let queued = 0;
  for (const target of targets) {
    const missing = db
      .select()
      .from(backups)
      .where(
        and(
          eq(backups.status, "completed"),
          inArray(backups.origin, [...AUTO_ORIGINS]),
          gte(backups.completedAt, target.createdAt),
          sql`NOT EXISTS (SELECT 1 FROM offsite_copies c WHERE c.backup_id = ${backups.id} AND c.target_id = ${target.id})`,
        ),
      )
      .all();
    for (const row of missing) queued += queueWithChain(db, row, target.id, now);
  }
  return queued;
}

/** Queues a backup and, for an incremental, the archives it builds on that the target lacks. */
function queueWithChain(db: AppDatabase, row: Backup, targetId: number, now: Date): number {
  let queued = 0;
  for (let current: Backup | undefined = row; current; ) {
    const inserted = db
      .insert(offsiteCopies)
      .values({ backupId: current.id, targetId, status: "queued", nextAttemptAt: now, bytesTotal: current.sizeBytes, createdAt: now, updatedAt: now })
      .onConflictDoNothing()
      .run();
    queued += inserted.changes;
    current = current.parentId === null ? undefined : db.select().from(backups).where(eq(backups.id, current.parentId)).get();
  }
  return queued;
}

/**
 * Queues one backup for one target (or every enabled target) now: the Retry button and
 * "copy now". A finished or failed row starts over with fresh attempts; a running one is left.
 */
export function requestCopy(opts: { db: AppDatabase; actor: Actor; backupId: number; targetId?: number; now?: Date }): OffsiteCopy[] {
  const { db, actor, backupId } = opts;
  const now = opts.now ?? new Date();
  const row = getBackupRow(db, backupId);
  if (row.status !== "completed") throw new AppError("CONFLICT", `${row.filename} is ${row.status.replace("_", " ")}; only completed backups can be copied offsite.`);
  const targets = opts.targetId !== undefined ? [getTargetRow(db, opts.targetId)] : db.select().from(offsiteTargets).where(eq(offsiteTargets.enabled, true)).all();
  if (targets.length === 0) throw new AppError("CONFLICT", "There is no enabled offsite target. Add one in Settings → Backup → Offsite copies.");
  for (const target of targets) {
    if (!target.enabled) throw new AppError("CONFLICT", `The offsite target "${target.name}" is switched off; switch it on first.`);
    queueWithChain(db, row, target.id, now);
    db.update(offsiteCopies)
      .set({ status: "queued", attempts: 0, nextAttemptAt: now, lastError: null, bytesDone: 0, updatedAt: now })
      .where(and(eq(offsiteCopies.backupId, row.id), eq(offsiteCopies.targetId, target.id), inArray(offsiteCopies.status, ["failed", "verified", "queued", "removed"])))
      .run();
  }
  for (const listener of listeners) listener();
  recordAudit(db, {
    action: "offsite.copy_request",
    actor,
    resource: `backup:${row.id}`,
    success: true,
    details: { filename: row.filename, targets: targets.map((t) => t.name) },
  });
  return db.select().from(offsiteCopies).where(eq(offsiteCopies.backupId, row.id)).all();
}

/** Claims a due row (queued and due, or uploading with a lapsed lease) for this process. */
function claim(db: AppDatabase, row: OffsiteCopy, now: Date): boolean {
  const changed = db
    .update(offsiteCopies)
    .set({ status: "uploading", attempts: sql`${offsiteCopies.attempts} + 1`, leaseUntil: new Date(now.getTime() + UPLOAD_LEASE_MS), bytesDone: 0, updatedAt: now })
    .where(
      and(
        eq(offsiteCopies.id, row.id),
        eq(offsiteCopies.attempts, row.attempts),
        or(
          and(eq(offsiteCopies.status, "queued"), lte(offsiteCopies.nextAttemptAt, now)),
          and(eq(offsiteCopies.status, "uploading"), or(isNull(offsiteCopies.leaseUntil), lte(offsiteCopies.leaseUntil, now))),
        ),
      ),
    )
    .run();
  return changed.changes === 1;
}

function dueRows(db: AppDatabase, now: Date, limit: number): OffsiteCopy[] {
  return db
    .select({ copy: offsiteCopies })
    .from(offsiteCopies)
    .innerJoin(offsiteTargets, eq(offsiteTargets.id, offsiteCopies.targetId))
    .where(
      and(
        eq(offsiteTargets.enabled, true),
        or(
          and(eq(offsiteCopies.status, "queued"), lte(offsiteCopies.nextAttemptAt, now)),
          and(eq(offsiteCopies.status, "uploading"), or(isNull(offsiteCopies.leaseUntil), lte(offsiteCopies.leaseUntil, now))),
        ),
      ),
    )
    // Oldest backup first: a chain's full goes up before the incrementals that need it.
    .orderBy(offsiteCopies.backupId, offsiteCopies.id)
    .limit(limit)
    .all()
    .map((r) => r.copy);
}

/**
 * Queues what is new, then uploads every due row, one object at a time (its parts in
 * parallel): bandwidth goes to finishing one copy rather than to half of several.
 */
export async function drainOffsiteQueue(opts: CopyOptions): Promise<DrainResult> {
  // Read the clock per row: a drain can run for hours, and a lease taken with its start time
  // would already have run out for a row claimed late in it.
  const clock = () => opts.now ?? new Date();
  queueNewCopies(opts.db, clock());
  const result: DrainResult = { verified: 0, retrying: 0, failed: 0 };
  const seen = new Set<number>();
  for (;;) {
    const now = clock();
    const next = dueRows(opts.db, now, 20).find((r) => !seen.has(r.id));
    if (!next) break;
    seen.add(next.id);
    if (!claim(opts.db, next, now)) continue;
    const outcome = await copyClaimed(opts, { ...next, attempts: next.attempts + 1 }, now);
    result[outcome] += 1;
  }
  return result;
}

class LeaseLost extends Error {
  constructor() {
    super("Another process took this copy over (its lease ran out).");
  }
}

async function copyClaimed(opts: CopyOptions, copy: OffsiteCopy, now: Date): Promise<"verified" | "retrying" | "failed"> {
  const { db, config } = opts;
  const target = db.select().from(offsiteTargets).where(eq(offsiteTargets.id, copy.targetId)).get();
  const backup = db.select().from(backups).where(eq(backups.id, copy.backupId)).get();
  if (!target || !backup) return "failed"; // removed meanwhile: the row went with it (cascade)
  let credentials: S3Credentials | null = null;
  try {
    if (backup.status !== "completed") throw new AppError("CONFLICT", `${backup.filename} is not a completed backup.`);
    credentials = await targetCredentials(config, target);
    const { key, keptParts } = await uploadBackup({ ...opts, copy, target, backup, credentials });
    const done = new Date();
    db.update(offsiteCopies)
      .set({ status: "verified", verifiedAt: done, lastError: null, leaseUntil: null, remoteKey: key, bytesDone: backup.sizeBytes, updatedAt: done })
      .where(and(eq(offsiteCopies.id, copy.id), eq(offsiteCopies.attempts, copy.attempts)))
      .run();
    recordAudit(db, {
      action: "offsite.copy",
      actor: SYSTEM_ACTOR,
      resource: `backup:${backup.id}`,
      success: true,
      details: { filename: backup.filename, target: target.name, key, size_bytes: backup.sizeBytes, attempts: copy.attempts, resumed_parts: keptParts || undefined },
    });
    // The target's own retention, now that it holds one more copy. A failure here is not the copy's.
    await applyRemoteRetention({ db, config, target, credentials, now: done }).catch((err) =>
      console.error(`[offsite] retention on target "${target.name}" failed:`, describeS3Error(err, target, credentials).message),
    );
    return "verified";
  } catch (err) {
    if (err instanceof LeaseLost) return "retrying";
    const message = err instanceof AppError ? err.message : describeS3Error(err, target, credentials).message;
    // A damaged or missing local archive will not get better by retrying; a bad remote copy may.
    const permanent = err instanceof AppError && err.code === "ARCHIVE_INVALID" && !err.details?.remote;
    const giveUp = permanent || copy.attempts >= COPY_MAX_ATTEMPTS;
    const at = new Date();
    db.update(offsiteCopies)
      .set(
        giveUp
          ? { status: "failed", lastError: message, leaseUntil: null, updatedAt: at }
          : { status: "queued", lastError: message, leaseUntil: null, nextAttemptAt: new Date(now.getTime() + COPY_RETRY_DELAYS_MS[copy.attempts - 1]!), updatedAt: at },
      )
      .where(and(eq(offsiteCopies.id, copy.id), eq(offsiteCopies.attempts, copy.attempts)))
      .run();
    if (!giveUp) return "retrying";
    recordAudit(db, {
      action: "offsite.copy",
      actor: SYSTEM_ACTOR,
      resource: `backup:${backup.id}`,
      success: false,
      errorMessage: message,
      details: { filename: backup.filename, target: target.name, attempts: copy.attempts },
    });
    announce(db, {
      event: "offsite_copy_failed",
      severity: "warning",
      title: `Offsite copy to "${target.name}" failed`,
      message: `${backup.filename} could not be copied to ${target.name} after ${copy.attempts} attempt${copy.attempts === 1 ? "" : "s"}: ${message}`,
      action: "Open Settings → Backup, fix the cause (Test connection on the target says what fails), then press Retry on the backup.",
      backupId: backup.id,
      details: { target: target.name, attempts: copy.attempts },
    });
    return "failed";
  }
}

/** Keeps a claim alive while bytes flow (on progress, and on a timer for slow parts); aborts `signal` when another process took the row over. */
function keepLease(db: AppDatabase, copy: OffsiteCopy, size: number) {
  const controller = new AbortController();
  let lastRenew = 0;
  const renew = (progress: { bytesDone?: number; updatedAt?: Date }) => {
    const renewed = db
      .update(offsiteCopies)
      .set({ ...progress, leaseUntil: new Date(Date.now() + UPLOAD_LEASE_MS) })
      .where(and(eq(offsiteCopies.id, copy.id), eq(offsiteCopies.attempts, copy.attempts), eq(offsiteCopies.status, "uploading")))
      .run();
    if (renewed.changes === 0 && !controller.signal.aborted) controller.abort(new LeaseLost());
  };
  const timer = setInterval(() => renew({}), LEASE_RENEW_MS);
  return {
    signal: controller.signal,
    progress(loaded: number) {
      if (loaded > 0 && loaded < size) crashPoint("offsite:part-uploaded");
      if (Date.now() - lastRenew < 1000 && loaded < size) return;
      lastRenew = Date.now();
      renew({ bytesDone: loaded, updatedAt: new Date() });
    },
    stop: () => clearInterval(timer),
  };
}

type Lease = ReturnType<typeof keepLease>;

/** Sends the whole archive with lib-storage (streamed, parts in parallel), hashing it on the way. */
async function uploadWhole(opts: {
  client: S3Client;
  file: string;
  partBytes: number;
  parallel: number;
  lease: Lease;
  params: { Bucket: string; Key: string; StorageClass?: string; Metadata: Record<string, string> };
}): Promise<{ sha256: string; bytes: number }> {
  const hasher = new Sha256Meter();
  const body = new PassThrough({ highWaterMark: 1024 * 1024 });
  const reading = pipeline(fs.createReadStream(opts.file, { highWaterMark: 1024 * 1024 }), hasher, body);
  const upload = new Upload({
    client: opts.client,
    partSize: opts.partBytes,
    queueSize: opts.parallel,
    leavePartsOnError: false,
    params: { ...opts.params, StorageClass: opts.params.StorageClass as never, Body: body, ContentType: "application/octet-stream" },
  });
  upload.on("httpUploadProgress", (p) => opts.lease.progress(p.loaded ?? 0));
  const onLost = () => void upload.abort();
  opts.lease.signal.addEventListener("abort", onLost);
  try {
    await Promise.all([upload.done(), reading]);
  } catch (err) {
    body.destroy();
    throw err;
  } finally {
    opts.lease.signal.removeEventListener("abort", onLost);
  }
  return { sha256: hasher.hash.digest("hex"), bytes: hasher.bytes };
}

/**
 * Uploads the archive and its manifest, then reads the archive back. An unfinished multipart
 * upload of the same object (a process killed mid-copy) is continued when its parts fit
 * (multipart-resume.ts), else aborted and the object sent again from the start.
 */
async function uploadBackup(
  opts: CopyOptions & { copy: OffsiteCopy; target: OffsiteTarget; backup: Backup; credentials: S3Credentials },
): Promise<{ key: string; keptParts: number }> {
  const { db, config, copy, target, backup, credentials } = opts;
  const file = archivePath(config, backup);
  const size = (await fs.promises.stat(file).catch(() => null))?.size;
  if (size === undefined) throw new AppError("ARCHIVE_INVALID", `The archive ${backup.filename} is missing from the backup folder; there is nothing to copy.`);
  const expected = backup.sha256 ?? (await hashStream(fs.createReadStream(file))).sha256;
  const key = remoteKey(target, backup.filename);
  const partBytes = Math.max(5 * 1024 * 1024, opts.partBytes ?? DEFAULT_PART_BYTES);
  const parallel = opts.parallelParts ?? DEFAULT_PARALLEL_PARTS;
  const client = s3Client(target, credentials);
  const lease = keepLease(db, copy, size);
  try {
    db.update(offsiteCopies).set({ remoteKey: key, bytesTotal: size }).where(eq(offsiteCopies.id, copy.id)).run();
    const leftover = await unfinishedUploads(client, target.bucket, key);
    let keptParts: number | null = null;
    if (leftover.length === 1) {
      keptParts = await resumeMultipartUpload({ client, bucket: target.bucket, key, uploadId: leftover[0]!, file, size, partBytes, parallel, signal: lease.signal, onProgress: (n) => lease.progress(n) }).catch(
        (err: unknown) => {
          if (lease.signal.aborted) throw new LeaseLost();
          console.warn(`[offsite] could not continue the upload of ${key}, starting it over:`, describeS3Error(err, target, credentials).message);
          return null;
        },
      );
    }
    let local: { sha256: string; bytes: number };
    if (keptParts === null) {
      await abortUploads(client, target.bucket, key, await unfinishedUploads(client, target.bucket, key));
      local = await uploadWhole({
        client,
        file,
        partBytes,
        parallel,
        lease,
        params: {
          Bucket: target.bucket,
          Key: key,
          StorageClass: target.storageClass ?? undefined,
          Metadata: toObjectMetadata({
            sha256: expected,
            size,
            backupType: backup.backupType,
            parent: backup.parentId === null ? null : (db.select({ f: backups.filename }).from(backups).where(eq(backups.id, backup.parentId)).get()?.f ?? null),
            createdAt: backup.createdAt.toISOString(),
          }),
        },
      }).catch((err: unknown) => {
        throw lease.signal.aborted ? new LeaseLost() : err;
      });
    } else {
      // The kept parts were read by the dead process: hash the whole file now.
      local = await hashStream(fs.createReadStream(file));
    }
    if (local.bytes !== size || local.sha256 !== expected) {
      // What went up is not the backup: it must not sit in the bucket looking like one.
      await client.send(new DeleteObjectCommand({ Bucket: target.bucket, Key: key })).catch(() => undefined);
      throw new AppError(
        "ARCHIVE_INVALID",
        `The local archive ${backup.filename} no longer matches its checksum (read ${local.bytes} bytes, SHA-256 ${local.sha256.slice(0, 12)}…, ` +
          `catalog says ${expected.slice(0, 12)}…): it is damaged here. Verify it in the backup list; it was not counted as copied.`,
      );
    }
    // The manifest lists every file's name, size and hash in clear: it goes beside a plain
    // archive only. An encrypted one goes alone, so the bucket reveals nothing of it.
    const manifest = manifestCopyPath(config, backup.filename);
    const manifestSize = isEncryptedName(backup.filename) ? undefined : (await fs.promises.stat(manifest).catch(() => null))?.size;
    if (manifestSize !== undefined) {
      await client.send(
        new PutObjectCommand({ Bucket: target.bucket, Key: manifestKey(key), Body: fs.createReadStream(manifest), ContentLength: manifestSize, ContentType: "application/json" }),
      );
    }
    crashPoint("offsite:uploaded");
    await readBackRemote(client, target, key, { sha256: expected, size });
    return { key, keptParts: keptParts ?? 0 };
  } finally {
    lease.stop();
    client.destroy();
  }
}

/** The open multipart uploads of exactly this key (a killed process leaves one: parts stored, object invisible). */
async function unfinishedUploads(client: S3Client, bucket: string, key: string): Promise<string[]> {
  const listed = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
  return (listed.Uploads ?? []).filter((u) => u.Key === key && u.UploadId).map((u) => u.UploadId!);
}

async function abortUploads(client: S3Client, bucket: string, key: string, uploadIds: string[]): Promise<void> {
  for (const UploadId of uploadIds) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }));
}

const REMOTE_RETENTION_INTERVAL_MS = 60 * 60_000;

/** Each enabled target's own retention, on what its bucket holds; a target that fails is logged and the others still run. */
export async function applyRemoteRetentionEverywhere(opts: { db: AppDatabase; config: AppConfig; now?: Date }): Promise<number> {
  let removed = 0;
  const targets = opts.db.select().from(offsiteTargets).where(eq(offsiteTargets.enabled, true)).all();
  for (const target of targets) {
    if (target.keepCount === null && target.keepDays === null) continue;
    let credentials: S3Credentials | null = null;
    try {
      credentials = await targetCredentials(opts.config, target);
      removed += (await applyRemoteRetention({ ...opts, target, credentials })).length;
    } catch (err) {
      console.error(`[offsite] retention on target "${target.name}" failed:`, err instanceof AppError ? err.message : describeS3Error(err, target, credentials).message);
    }
  }
  return removed;
}

/**
 * The web server drains the queue every 15 s (a copy is background work: a backup made by
 * the CLI or a plan is picked up at the next tick), one drain at a time per process.
 */
export function startOffsiteCopier(opts: { db: () => AppDatabase; config: () => AppConfig; intervalMs?: number }): () => void {
  let running = false;
  let retentionAt = 0;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      await drainOffsiteQueue({ db: opts.db(), config: opts.config() });
      // Hourly too, so keep_days ages copies out of a target that gets no new ones.
      if (Date.now() - retentionAt >= REMOTE_RETENTION_INTERVAL_MS) {
        retentionAt = Date.now();
        await applyRemoteRetentionEverywhere({ db: opts.db(), config: opts.config() });
      }
    } catch (err) {
      console.error("[offsite] copy queue:", describeError(err));
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), opts.intervalMs ?? 15_000);
  timer.unref();
  setTimeout(() => void tick(), 5_000).unref();
  const unsubscribe = onCopyRequested(() => setImmediate(() => void tick()));
  return () => {
    clearInterval(timer);
    unsubscribe();
  };
}
