/**
 * Bringing archives in from outside (a browser upload, a file given to the CLI) and
 * verifying archives already in the catalog. An archive from outside is hostile until
 * verified: it is streamed to a temporary name in the backup folder, checked with the
 * same hardened reader a restore uses, and only then given a catalog name and a row.
 * A refused archive leaves nothing behind.
 *
 * Archives without our manifest (the real BaluHost's, or made by hand in the spec layout) are
 * described by restore/foreign.ts: type from the contents (or as declared), no file list, and
 * whether their database is another application's.
 *
 * The temporary names carry their owner (pid and process start time, as the operation lock
 * does), so the start-up sweep removes those of a process that died at once and leaves a
 * live one's (a CLI import running beside the server) alone.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { and, desc, eq } from "drizzle-orm";
import type { AppDatabase } from "@/db/client";
import { formatBytes } from "@/lib/format";
import { backups, type Backup, type BackupType } from "@/db/schema";
import { recordAudit, type Actor } from "../audit";
import type { AppConfig } from "../config";
import { AppError, describeError } from "../errors";
import type { ManifestFileEntry } from "./archive";
import { EntryCursor } from "./archive/item-cursor";
import { linesOfFile } from "./archive/line-spool";
import { readManifestStream, type ManifestStream, type ManifestSummary } from "./archive/manifest";
import { archivePath, getBackupRow, INCOMING_PREFIX, manifestCopyPath, streamManifest, uniqueArchiveName } from "./catalog";
import type { AgeKeys } from "./crypto";
import { archiveKeys, archiveLock, checkEncryptedStructure } from "./encryption";
import { crashPoint } from "./failpoints";
import { durableRename, freeBytes, fsyncFile, linkIntoPlace } from "./fs-safe";
import { currentProcessOwner } from "./lock";
import { announce } from "./notify/announce";
import { verifyArchive, type VerifyResult } from "./restore/extract";
import { describeForeignArchive, inspectArchivedDatabase, type ArchivedDatabase } from "./restore/foreign";

/** Uploads larger than this are refused (the admin can raise it with NAS_BACKUP_MAX_UPLOAD_GB). */
export function maxUploadBytes(env = process.env): number {
  const gb = Number(env.NAS_BACKUP_MAX_UPLOAD_GB ?? 1024);
  return (Number.isFinite(gb) && gb > 0 ? gb : 1024) * 1024 ** 3;
}

/** Counts and hashes bytes on their way to disk, and stops a stream that exceeds the limit. */
function meter(limit: number) {
  const hash = crypto.createHash("sha256");
  let bytes = 0;
  const transform = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (bytes > limit) {
        done(new AppError("PAYLOAD_TOO_LARGE", `The archive is larger than the limit of ${Math.floor(limit / 1024 ** 3)} GB.`));
        return;
      }
      hash.update(chunk);
      done(null, chunk);
    },
  });
  return { transform, result: () => ({ bytes, sha256: hash.digest("hex") }) };
}

/** The name (without suffix) of a new temporary file of an archive being received, carrying its owner. */
export function incomingBaseName(): string {
  const owner = currentProcessOwner();
  return `${INCOMING_PREFIX}p${owner.pid}-s${owner.startTime ?? "x"}-${crypto.randomUUID()}`;
}

/** The owner an incoming file's name carries; null for a name without one (made by an older version). */
export function incomingOwner(name: string): { pid: number; startTime: string | null } | null {
  const m = /^\.incoming-p(\d+)-s(\d+|x)-/.exec(name);
  if (!m || !name.startsWith(INCOMING_PREFIX)) return null;
  return { pid: Number(m[1]), startTime: m[2] === "x" ? null : m[2] };
}

export interface Described {
  type: BackupType;
  includesDatabase: boolean;
  includesFiles: boolean;
  includesConfig: boolean;
  parentId: number | null;
  fileCount: number | null;
  /** False: no list of every file (no manifest); a restore adds and replaces. */
  fileList: boolean;
  foreignDatabase: boolean;
  /** When the archive was made: its manifest's created_at, or (no manifest) its newest entry's mtime. */
  madeAt: Date | null;
}

/**
 * What a verified archive holds, from its manifest or (a foreign archive) from its contents.
 * `declared` is the type the admin gave; for our archives it must be the manifest's.
 */
export async function describeArchive(opts: {
  db: AppDatabase;
  config: AppConfig;
  /** The verified archive's manifest (head) and the file its full text was saved to; null: a foreign archive. */
  manifest: (ManifestSummary & { file: string }) | null;
  contents: Pick<VerifyResult, "parts" | "treeFiles" | "newestMtimeMs">;
  archivedDatabase: ArchivedDatabase | null;
  declared?: BackupType;
}): Promise<Described> {
  const { db, config, manifest, declared } = opts;
  if (!manifest) {
    const foreign = describeForeignArchive({ ...opts.contents.parts, fileCount: opts.contents.treeFiles, archivedDatabase: opts.archivedDatabase }, declared);
    const newest = opts.contents.newestMtimeMs;
    // A time in the future (a wrong clock where it was made) says nothing: the arrival time stands in.
    const madeAt = newest !== null && newest <= Date.now() ? new Date(newest) : null;
    return { ...foreign, parentId: null, fileList: false, madeAt };
  }
  if (declared && declared !== manifest.backup_type) {
    throw new AppError("BAD_REQUEST", `The archive's manifest says it is a ${manifest.backup_type.replace("_", " ")} backup, not ${declared.replace("_", " ")}. Leave the type out.`);
  }
  let parentId: number | null = null;
  if (manifest.backup_type === "incremental" && manifest.parent) {
    const parent = await findParentByContent(db, config, manifest);
    if (!parent) {
      throw new AppError(
        "ARCHIVE_INVALID",
        `This archive is an incremental backup built on ${manifest.parent.filename}, which is not in the backup list. ` +
          "Import that backup (and any incrementals between) first.",
      );
    }
    parentId = parent.id;
  }
  return {
    type: manifest.backup_type,
    includesDatabase: manifest.includes.database,
    includesFiles: manifest.includes.files,
    includesConfig: manifest.includes.config,
    parentId,
    fileCount: manifest.totals.files,
    fileList: true,
    foreignDatabase: false,
    madeAt: Number.isNaN(Date.parse(manifest.created_at)) ? null : new Date(Math.min(Date.parse(manifest.created_at), Date.now())),
  };
}

/**
 * The backup an imported incremental builds on. Imported archives get new names, so the
 * parent is recognised by content, not by the name the incremental remembers: the newest
 * catalogued backup whose manifest holds every file the incremental lists as unchanged, with
 * the same SHA-256 (the name it remembers is only a tie-breaker).
 */
async function findParentByContent(db: AppDatabase, config: AppConfig, manifest: ManifestSummary & { file: string }): Promise<Backup | null> {
  const candidates = db
    .select()
    .from(backups)
    .where(and(eq(backups.status, "completed"), eq(backups.includesFiles, true)))
    .orderBy(desc(backups.createdAt))
    .all()
    .sort((a, b) => Number(b.filename === manifest.parent?.filename) - Number(a.filename === manifest.parent?.filename));
  for (const candidate of candidates) {
    const theirs = await streamManifest(config, candidate).catch(() => null);
    if (!theirs) continue;
    // A candidate whose manifest cannot be read to the end is no parent; the next one may be.
    const holds = await openManifestFile(manifest.file)
      .then((ours) => holdsUnchangedFiles(ours, theirs))
      .catch(() => false)
      .finally(() => theirs.close());
    if (holds) return candidate;
  }
  return null;
}

/**
 * Whether `theirs` lists every file `ours` lists as unchanged, with the same hash. Both
 * manifests are in archive order, so they are merged like two sorted lists: nothing is held.
 */
async function holdsUnchangedFiles(ours: ManifestStream, theirs: ManifestStream): Promise<boolean> {
  let unreadable = false;
  const candidate = new EntryCursor(theirs.entries, () => (unreadable = true));
  try {
    for await (const e of manifestEntries(ours)) {
      if (e.type !== "file" || e.in_archive) continue;
      const match = await candidate.seek(e.path);
      if (unreadable || match?.type !== "file" || match.sha256 !== e.sha256) return false;
    }
    return true;
  } finally {
    await theirs.close();
  }
}

function openManifestFile(file: string): Promise<ManifestStream> {
  return readManifestStream(linesOfFile(file), "The archive");
}

/** A manifest's entries one by one; the stream is closed at the end or on the way out. */
async function* manifestEntries(stream: ManifestStream): AsyncGenerator<ManifestFileEntry> {
  try {
    for await (const batch of stream.entries) yield* batch;
  } finally {
    await stream.close();
  }
}

export interface ImportOptions {
  db: AppDatabase;
  config: AppConfig;
  actor: Actor;
  /** The archive: a stream (an upload) or a file path (the CLI). */
  source: Readable | { path: string };
  origin: "uploaded" | "imported";
  /** The size announced by the client (Content-Length), to refuse early. */
  expectedBytes?: number;
  /** The name the archive had outside, kept in the audit log. */
  originalName?: string;
  freeSpace?: (dir: string) => Promise<number>;
  /** The type the admin declares (upload `?backup_type=`, CLI `--type`): how an incremental without a manifest is known when its database cannot tell. */
  declaredType?: BackupType;
  /** Passphrase / identities for an encrypted (age) archive, besides what the server keeps. */
  keys?: AgeKeys;
}

export async function importBackup(opts: ImportOptions): Promise<Backup> {
  const { db, config, actor } = opts;
  const action = opts.origin === "uploaded" ? "backup.upload" : "backup.import";
  const incoming = incomingBaseName();
  const tmp = path.join(config.backupPath, `${incoming}.partial`);
  // The archive's manifest, saved while it is verified: it becomes the catalog's copy.
  const incomingManifest = path.join(config.backupPath, `${incoming}.manifest.partial`);
  try {
    const limit = maxUploadBytes();
    const size = "path" in opts.source ? (await fs.promises.stat(opts.source.path)).size : opts.expectedBytes;
    if (size !== undefined && size > limit) {
      throw new AppError("PAYLOAD_TOO_LARGE", `The archive is larger than the limit of ${Math.floor(limit / 1024 ** 3)} GB.`);
    }
    const available = await (opts.freeSpace ?? freeBytes)(config.backupPath);
    if (size !== undefined && available < size + 64 * 1024 * 1024) {
      throw new AppError(
        "INSUFFICIENT_SPACE",
        `Not enough free space in the backup folder for this ${formatBytes(size)} archive (${formatBytes(available)} free). Delete old backups, then try again.`,
      );
    }
    const input = "path" in opts.source ? fs.createReadStream(opts.source.path) : opts.source;
    const metered = meter(limit);
    await fs.promises.mkdir(config.backupPath, { recursive: true });
    await pipeline(input, metered.transform, fs.createWriteStream(tmp, { flags: "wx", mode: 0o600 }));
    const { bytes, sha256 } = metered.result();
    if (bytes === 0) throw new AppError("ARCHIVE_INVALID", "The archive is empty.");
    crashPoint("import:received");

    let archivedDatabase: ArchivedDatabase | null = null;
    const verified = await verifyArchive(tmp, {
      manifestCopyPath: incomingManifest,
      keys: await archiveKeys(config, opts.keys),
      inspectDatabase: (file) => (archivedDatabase = inspectArchivedDatabase(file)),
    }).catch((err: unknown) => {
      // The reader names the file it read: say the name the admin knows, not our temporary one.
      if (err instanceof AppError) {
        const known = opts.originalName ? `"${opts.originalName}"` : "the uploaded archive";
        err.message = err.message.split(path.basename(tmp)).join(known);
      }
      throw err;
    });
    const described = await describeArchive({
      db,
      config,
      manifest: verified.manifest ? { ...verified.manifest, file: incomingManifest } : null,
      contents: verified,
      archivedDatabase,
      declared: opts.declaredType,
    });
    return await catalogArchive({
      db,
      config,
      actor,
      archive: tmp,
      manifestCopy: verified.manifest ? incomingManifest : null,
      bytes,
      sha256,
      described,
      origin: opts.origin,
      audit: { action, originalName: opts.originalName },
    });
  } catch (err) {
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    await fs.promises.rm(incomingManifest, { force: true }).catch(() => undefined);
    recordAudit(db, { action, actor, success: false, errorMessage: describeError(err), details: { original_name: opts.originalName ?? null } });
    throw err;
  }
}

/**
 * Gives a verified archive, complete under a temporary name in the backup folder, its
 * catalog name (fsynced, then linked: never replacing another archive) and its row.
 */
export async function catalogArchive(opts: {
  db: AppDatabase;
  config: AppConfig;
  actor: Actor;
  archive: string;
  /** The manifest's text saved while verifying (our archives), moved to the catalog's copy. */
  manifestCopy: string | null;
  bytes: number;
  sha256: string;
  described: Described;
  origin: "uploaded" | "imported";
  audit: { action: string; originalName?: string };
}): Promise<Backup> {
  const { db, config, actor, described, bytes, sha256 } = opts;
  const tmp = opts.archive;
  // Read before: an encrypted archive keeps its .age name; its header was checked while it was verified.
  const lock = await archiveLock(tmp);
  if (!described.includesDatabase && !described.includesFiles && !described.includesConfig) {
    throw new AppError("ARCHIVE_INVALID", "The archive holds neither a database nor files: there is nothing in it to restore.");
  }

  // Durable before it gets its final name: a file under that name is always complete.
  await fsyncFile(tmp);
  const now = new Date();
  // Imports run outside the operation lock: claim the name with a link, which fails
  // instead of replacing an archive another import named in the same second.
  let filename = uniqueArchiveName(db, config, now, "", lock !== null);
  for (let attempt = 0; ; attempt++) {
    try {
      await linkIntoPlace(tmp, archivePath(config, { filename }));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 20) throw err;
      filename = uniqueArchiveName(db, config, now, "", lock !== null);
    }
  }
  if (opts.manifestCopy) {
    await fs.promises.mkdir(path.dirname(manifestCopyPath(config, filename)), { recursive: true });
    await durableRename(opts.manifestCopy, manifestCopyPath(config, filename));
  }
  const row = db
    .insert(backups)
    .values({
      filename,
      filepath: archivePath(config, { filename }),
      sizeBytes: bytes,
      backupType: described.type,
      status: "completed",
      origin: opts.origin,
      // "Created" is when the archive was made; it arrived now (retention counts its age from that).
      createdAt: described.madeAt ?? now,
      completedAt: now,
      importedAt: now,
      creatorId: actor.id,
      creatorName: actor.username,
      includesDatabase: described.includesDatabase,
      includesFiles: described.includesFiles,
      includesConfig: described.includesConfig,
      parentId: described.parentId,
      fileCount: described.fileCount,
      fileList: described.fileList,
      foreignDatabase: described.foreignDatabase,
      sha256,
      verifiedAt: now,
      verifyStatus: "ok",
      verifyScope: "full",
      encryption: lock?.mode ?? null,
    })
    .returning()
    .get();
  recordAudit(db, {
    action: opts.audit.action,
    actor,
    resource: `backup:${row.id}`,
    success: true,
    details: {
      filename,
      original_name: opts.audit.originalName ?? null,
      size_bytes: bytes,
      foreign: !described.fileList,
      foreign_database: described.foreignDatabase,
      backup_type: described.type,
      encryption: lock?.mode ?? null,
    },
  });
  return row;
}

/**
 * Checks a catalogued archive end to end without restoring, and records the result on it.
 * An encrypted archive is decrypted with the keys given and those the server keeps; with no
 * key for it, only what can be checked without one is (the age header, the size and the
 * SHA-256 recorded when it was made) and the record says so (verify_scope "structure"). A
 * wrong key is the caller's mistake, not damage: it is thrown and nothing is recorded.
 */
export async function verifyBackup(opts: { db: AppDatabase; config: AppConfig; actor: Actor; id: number; keys?: AgeKeys }): Promise<Backup> {
  const { db, config, actor, id } = opts;
  const row = getBackupRow(db, id);
  if (row.status !== "completed") {
    throw new AppError("CONFLICT", `${row.filename} is ${row.status.replace("_", " ")}; only completed backups can be verified.`);
  }
  let problem: string | null = null;
  let scope: "full" | "structure" = "full";
  try {
    const file = archivePath(config, row);
    if (!fs.existsSync(file)) throw new AppError("ARCHIVE_INVALID", `The archive ${row.filename} is missing from the backup folder.`);
    try {
      await verifyArchive(file, { keys: await archiveKeys(config, opts.keys) });
    } catch (err) {
      // No key given and none the server keeps opens it (e.g. made under an earlier passphrase).
      if (!(err instanceof AppError && (err.code === "KEY_REQUIRED" || err.code === "WRONG_KEY") && !opts.keys)) throw err;
      scope = "structure";
      await checkEncryptedStructure(file, row);
    }
  } catch (err) {
    if (err instanceof AppError && (err.code === "WRONG_KEY" || err.code === "KEY_REQUIRED")) {
      recordAudit(db, { action: "backup.verify", actor, resource: `backup:${id}`, success: false, errorMessage: err.message, details: { filename: row.filename } });
      throw err;
    }
    if (!(err instanceof AppError)) console.error(`[verify] backup ${id}:`, err);
    problem = err instanceof AppError ? err.message : `The archive could not be read: ${describeError(err)}`;
  }
  const updated = db
    .update(backups)
    .set({ verifiedAt: new Date(), verifyStatus: problem ? "failed" : "ok", verifyError: problem, verifyScope: scope })
    .where(eq(backups.id, id))
    .returning()
    .get();
  recordAudit(db, {
    action: "backup.verify",
    actor,
    resource: `backup:${id}`,
    success: problem === null,
    errorMessage: problem,
    details: { filename: row.filename, scope },
  });
  if (problem) {
    announce(db, {
      event: "verify_failed",
      severity: "critical",
      title: row.planName ? `Backup of plan "${row.planName}" failed verification` : "Backup verification failed",
      message: `The archive ${row.filename} is damaged: ${problem}`,
      action: "Do not rely on this backup: make a new full backup now and check the disk that holds the backups.",
      backupId: row.id,
      planName: row.planName,
    });
  }
  return updated;
}
