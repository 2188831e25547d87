/**
 * Restoring an archive file that is not in the catalog yet, in one read: the disaster path
 * (`backup restore FILE --yes` on a fresh machine). Importing and then restoring would read
 * and decompress the archive twice; here the staging extraction is the verification (sizes,
 * hashes and manifest are checked as it extracts), and the compressed bytes are copied into
 * the backup folder while they are read.
 *
 * Invariants, as for an import: the copy is written under a temporary name that carries its
 * owner, fsynced, and gets its catalog name and row only once the archive has been read to
 * the end and accepted; an archive that is refused leaves neither a row nor the copy. Once
 * it is catalogued it stays there, even if the restore is then refused (a foreign database
 * asked for): it can be restored by id without reading the file again.
 *
 * An incremental of ours needs the older archives of its chain, which are in the catalog: it
 * is catalogued in this read, and then restored as any catalogued backup (a second read of
 * it, the rare case: a fresh machine has no chain to build on).
 */
import fs from "node:fs";
import path from "node:path";
import type { BackupType } from "@/db/schema";
import { AppError } from "../../errors";
import { crashPoint } from "../failpoints";
import { archiveKeys } from "../encryption";
import { catalogArchive, describeArchive, incomingBaseName, maxUploadBytes } from "../import";
import { checkParts, checkSchemaLevel, isRequestedPart, restoreBackup, runRestore, type RestoreOptions, type RestoreOutcome } from "./restore";
import { extractArchive } from "./extract";
import { toInvalidError } from "./extract-errors";
import { inspectArchivedDatabase, type ArchivedDatabase } from "./foreign";
import { checkDatabaseIntegrity } from "./verify-database";

export interface RestoreFileOptions extends Omit<RestoreOptions, "backupId"> {
  file: string;
  /** The type of an archive without our manifest, when its contents cannot tell. */
  declaredType?: BackupType;
}

/** Thrown from staging: the archive is catalogued but needs its chain, restored by id instead. */
class NeedsChain extends Error {
  constructor(readonly backupId: number) {
    super(`backup ${backupId} needs the older archives of its chain`);
  }
}

export async function restoreArchiveFile(opts: RestoreFileOptions): Promise<RestoreOutcome> {
  const { db, config, actor, parts, file } = opts;
  const incoming = path.join(config.backupPath, incomingBaseName());
  const copy = `${incoming}.partial`;
  const manifestCopy = `${incoming}.manifest.partial`;
  const originalName = path.basename(file);
  try {
    return await runRestore(opts, {
      subject: `restore of ${originalName} by ${actor.username}`,
      backupId: null,
      check: () => {
        const stat = fs.statSync(file, { throwIfNoEntry: false });
        if (!stat?.isFile()) throw new AppError("NOT_FOUND", `There is no archive at ${file}.`);
        const limit = maxUploadBytes();
        if (stat.size > limit) throw new AppError("PAYLOAD_TOO_LARGE", `The archive is larger than the limit of ${Math.floor(limit / 1024 ** 3)} GB.`);
      },
      space: async () => {
        const size = (await fs.promises.stat(file)).size;
        return { staged: size * 4, backupFolder: size };
      },
      stage: async ({ staging, progress, maxTotalBytes }) => {
        progress.bytesTotal = (await fs.promises.stat(file)).size;
        await fs.promises.mkdir(config.backupPath, { recursive: true });
        // The database is always looked at (whose it is, which type it gives the backup); when it
        // is not to be restored it goes to a folder of the work area that is never swapped in.
        const databaseDir = staging.database ?? path.join(staging.workDirs[0]!, "archived-database");
        await fs.promises.mkdir(databaseDir, { recursive: true });
        const result = await extractArchive({
          archivePath: file,
          destinations: { database: databaseDir, files: staging.files, config: staging.config },
          wanted: (p) => isRequestedPart(p, parts) || p.startsWith("database/"),
          limits: { maxTotalBytes },
          workDir: staging.workDirs[0],
          manifestCopyPath: manifestCopy,
          copyTo: copy,
          keys: await archiveKeys(config, opts.keys),
          onProgress: (p) => {
            progress.bytesDone = p.compressedBytesRead;
            progress.filesDone = p.entriesDone;
          },
        });
        crashPoint("restore-file:extracted");
        const archivedDatabase = result.databaseFiles.includes("baluhost.db") ? checkedDatabase(path.join(databaseDir, "baluhost.db"), file) : null;
        if (result.manifest) checkSchemaLevel(result.manifest.migration_level, `The archive ${originalName}`);
        const described = await describeArchive({
          db,
          config,
          manifest: result.manifest ? { ...result.manifest, file: manifestCopy } : null,
          contents: result,
          archivedDatabase,
          declared: opts.declaredType,
        });
        const target = await catalogArchive({
          db,
          config,
          actor,
          archive: copy,
          manifestCopy: result.manifest ? manifestCopy : null,
          bytes: result.copy!.bytes,
          sha256: result.copy!.sha256,
          described,
          origin: "imported",
          audit: { action: "backup.import", originalName },
        });
        if (target.parentId !== null) throw new NeedsChain(target.id);
        checkParts(target, parts);
        return { target, chain: [target], manifest: result.manifest };
      },
    });
  } catch (err) {
    if (err instanceof NeedsChain) return restoreBackup({ ...opts, backupId: err.backupId });
    throw withoutTemporaryName(err, copy, originalName);
  } finally {
    await fs.promises.rm(copy, { force: true }).catch(() => undefined);
    await fs.promises.rm(manifestCopy, { force: true }).catch(() => undefined);
  }
}

/** The integrity check verify makes at import, then what the database is. */
function checkedDatabase(db: string, archive: string): ArchivedDatabase {
  try {
    checkDatabaseIntegrity(db);
    return inspectArchivedDatabase(db);
  } catch (err) {
    if (err instanceof Error && err.name === "ArchiveRefusal") throw toInvalidError(err as Parameters<typeof toInvalidError>[0], archive, "restore");
    throw new AppError("ARCHIVE_INVALID", `The database in ${path.basename(archive)} cannot be read (${(err as Error).message}); nothing was restored.`);
  }
}

function withoutTemporaryName(err: unknown, temporary: string, known: string): unknown {
  const appError = err as Partial<AppError> | null;
  if (appError && typeof appError.message === "string" && appError.message.includes(path.basename(temporary))) {
    (err as Error).message = appError.message.split(path.basename(temporary)).join(`"${known}"`);
  }
  return err;
}
