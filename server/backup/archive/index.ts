/**
 * The backup archive engine: scan a tree, write a .tar.gz backup with its manifest, read the
 * manifest back. Plain Node plus the `tar` package (parsing only); no app imports, so it can
 * be used from the backup service, the CLI, tests and the benchmark alike.
 *
 * Use writeBackupArchive for backups (give it the trees' entries in comparePaths order, as
 * walkTreeBatches makes them, with the parent's hash on an incremental's unchanged files), and
 * readManifestFromArchive to read a finished archive's manifest.
 */
export {
  MANIFEST_FORMAT,
  MANIFEST_FORMAT_VERSION,
  type ArchiveListing,
  type ArchiveProgress,
  type ArchiveTree,
  type BackupManifest,
  type BackupType,
  type ManifestFileEntry,
  type PlannedEntry,
  type ScannedEntry,
  type SkippedEntry,
  type TreeName,
  type WriteArchiveOptions,
  type WrittenArchive,
} from "./types";
export { ArchiveError, type ArchiveErrorCode } from "./errors";
export { scanTree, walkTreeBatches, comparePaths, type ScanOptions } from "./scan";
export { writeBackupArchive, DATABASE_ARCHIVE_PATH, type ArchiveTuning } from "./writer";
export { readManifestFromArchive, listArchive } from "./reader";
export { parseManifest, isManifestFileEntry, MANIFEST_ARCHIVE_PATH } from "./manifest";
