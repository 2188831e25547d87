/**
 * The shapes the archive engine shares with its callers: what a scan finds, what a
 * manifest lists, what the writer is asked to do and what it reports back. No logic here.
 */
import type { AgeTarget } from "../crypto";
import type { BackupType } from "@/db/schema";

export const MANIFEST_FORMAT = "baluhost-backup";
export const MANIFEST_FORMAT_VERSION = 1;

/** The trees a backup can hold besides the database; each is stored under backup/<name>/. */
export type TreeName = "files" | "config";

export interface ScannedEntry {
  /** Posix path relative to the tree root, exactly as on disk (no Unicode normalisation). */
  path: string;
  type: "file" | "dir" | "symlink";
  /** Bytes for files, 0 for directories, the link text's length for symlinks (lstat). */
  size: number;
  mtimeMs: number;
  /** Mode bits without the file type: mode & 0o7777 (permissions plus setuid/setgid/sticky). */
  mode: number;
  /** Symlinks only: the target exactly as stored in the link, never resolved. */
  linkTarget?: string;
}

/** At most this many left-out entries are listed one by one (a tree of a million sockets must not fill memory). */
export const SKIPPED_LISTED = 1000;

/** Something the scan or the writer left out, and why. */
export interface SkippedEntry {
  /** For scans: relative to the tree root. For the writer: the archive path ("files/a/b"). */
  path: string;
  reason:
    | "special-file" /* socket, FIFO, block or character device */
    | "vanished" /* deleted (or replaced by something that is not a file) between scan and read */
    | "invalid-name" /* a name or link target that is not valid UTF-8: it cannot be listed faithfully */
    | "unsafe-link" /* a symlink pointing outside its tree (absolute, or "..") that a restore would refuse */;
}

export interface ManifestFileEntry {
  /** Archive path relative to "backup/": "files/photos/a.jpg", "config/app.json", "database/baluhost.db". */
  path: string;
  type: "file" | "dir" | "symlink";
  size: number;
  /** Milliseconds since the epoch. */
  mtime: number;
  mode: number;
  /** Files only: hex SHA-256 of the content (for unchanged files of an incremental: the parent's hash). */
  sha256?: string;
  link_target?: string;
  /** false for an incremental's unchanged file: listed but its body is not stored in this archive. */
  in_archive: boolean;
}

export type { BackupType };

export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  format_version: typeof MANIFEST_FORMAT_VERSION;
  app_version: string;
  migration_level: number;
  backup_type: BackupType;
  parent: { id: number; filename: string } | null;
  /** ISO 8601. */
  created_at: string;
  includes: { database: boolean; files: boolean; config: boolean };
  entries: ManifestFileEntry[];
  totals: {
    files: number;
    dirs: number;
    symlinks: number;
    /** Sum of the sizes of all files listed, stored or not. */
    bytes: number;
    archived_files: number;
    archived_bytes: number;
  };
}

export interface ArchiveProgress {
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

/** A scanned entry as a backup plans it. */
export interface PlannedEntry extends ScannedEntry {
  /**
   * Incremental backups: the parent's hash of this file, which has not changed since. The file
   * is then listed in the manifest with in_archive:false and its body is neither read nor stored.
   */
  unchangedSha256?: string;
}

export interface ArchiveTree {
  name: TreeName;
  root: string;
  /**
   * The tree's entries in comparePaths order, in batches (a scan spooled to disk) or as one
   * array; when absent the writer walks `root` itself.
   */
  entries?: AsyncIterable<PlannedEntry[]> | PlannedEntry[];
}

export interface WriteArchiveOptions {
  /** A temporary path: created with flag "wx" (mode 0600), written, fsynced, closed. The caller renames it. */
  outputPath: string;
  /** A finished SQLite file, stored as backup/database/baluhost.db. */
  database?: { snapshotPath: string };
  trees: ArchiveTree[];
  meta: Omit<BackupManifest, "entries" | "totals">;
  /** The trees' work (files to read, their bytes; the database is added) for progress; without it, counted as entries arrive. */
  expected?: { files: number; bytes: number };
  /** Also writes the manifest, the same bytes as backup/manifest.json, to this new file (flag "wx"). */
  manifestCopyPath?: string;
  /** Also writes the archive's seek index (seek-index.ts) to this new file (flag "wx"). */
  seekIndexPath?: string;
  /** Abort: stop promptly and reject with an Error named "AbortError"; the temp file is left to the caller. */
  signal?: AbortSignal;
  /** Called at most about 10 times a second, plus once at the end. */
  onProgress?: (progress: ArchiveProgress) => void;
  /**
   * Encrypt the output (age v1, see server/backup/crypto/): the file is then a .tar.gz.age
   * whose plaintext is exactly the .tar.gz that would have been written.
   */
  encryptTo?: AgeTarget;
}

export interface WrittenArchive {
  sizeBytes: number;
  /** Hex SHA-256 of the whole file as written (.tar.gz, or .tar.gz.age when encrypted). */
  sha256: string;
  /** The manifest without its entry list (which can be millions long: read it from the archive or the copy). */
  manifest: Omit<BackupManifest, "entries">;
  /** What was left out (special files, files deleted during the backup, names that are not UTF-8): the first SKIPPED_LISTED. */
  skipped: SkippedEntry[];
  /** How many entries were left out in all. */
  skippedCount: number;
}

/** One entry of an archive as listed by listArchive(). */
export interface ArchiveListing {
  /** The full path inside the archive, e.g. "backup/files/a.txt" (directories end in "/"). */
  path: string;
  type: "file" | "dir" | "symlink" | "other";
  size: number;
  mtimeMs: number;
  mode: number;
  linkTarget?: string;
}
