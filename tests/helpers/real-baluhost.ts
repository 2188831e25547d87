/**
 * Archives made the way the real BaluHost makes them: tests/fixtures/real_baluhost_backup.py,
 * run with the system's python3 (Debian's; .ci/run installs it), on a stand-in installation
 * in a temp folder (its SQLite database in WAL mode with SQLAlchemy-style tables, its storage,
 * its settings).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "./cli";
import { hashTree, writeFiles } from "./files";
import { makeTempDir } from "./test-app";

export type RealBackupType = "full" | "incremental" | "database_only" | "files_only" | "config_only";

export interface RealInstallation {
  home: string;
  /** Removes the installation and its archives. */
  remove: () => void;
  storage: string;
  /** Makes an archive of `type` in a temp folder and returns its path (see the script for the options). */
  backup: (type: RealBackupType, options?: { config?: boolean; hostile?: "symlink-out" | "dotdot" | "absolute" | "hardlink" }) => string;
}

const SCRIPT = path.join(REPO_ROOT, "tests/fixtures/real_baluhost_backup.py");

/** The settings the real installation snapshots into config/ (secrets redacted there). */
export const REAL_SETTINGS = {
  server: { name: "Wohnzimmer-NAS", port: 8000, secret_key: "s3cr3t-signing-key" },
  smtp: { host: "mail.example.org", user: "nas", password: "mail-password" },
  sharing: { guest_links: true, allowed: ["family", "Grüße"] },
};

/**
 * A stand-in installation with what the real archives must carry over: unicode names, nested
 * folders, an empty folder, a symlink to a file and one to a folder (copytree follows both).
 */
export function realInstallation(): RealInstallation {
  const home = makeTempDir("real-baluhost-");
  const storage = path.join(home, "storage");
  writeFiles(storage, {
    "a.txt": "real a\n",
    "photos/2024/ünïcödé – Straße.txt": "unicode name\n",
    "photos/2024/deep/er/nested.txt": "deep\n",
    "docs/report.pdf": Buffer.from([0x25, 0x50, 0x44, 0x46, 0x00, 0xff, 0x10]),
  });
  fs.mkdirSync(path.join(storage, "empty-folder"));
  fs.symlinkSync("a.txt", path.join(storage, "link-to-a"));
  fs.symlinkSync("docs", path.join(storage, "link-to-docs"));
  fs.writeFileSync(path.join(home, "settings.json"), JSON.stringify(REAL_SETTINGS));
  const out = makeTempDir("real-baluhost-out-");
  let n = 0;
  return {
    home,
    remove: () => {
      fs.rmSync(home, { recursive: true, force: true });
      fs.rmSync(out, { recursive: true, force: true });
    },
    storage,
    backup: (type, options = {}) => {
      const file = path.join(out, `${++n}-${type}.tar.gz`);
      const flags = [...(options.config ? ["--config"] : []), ...(options.hostile ? ["--hostile", options.hostile] : [])];
      execFileSync("python3", [SCRIPT, home, file, type, ...flags], { stdio: ["ignore", "pipe", "pipe"] });
      return file;
    },
  };
}

/** The storage as the archive holds it (copytree with symlinks=False: links become copies), path → sha256. */
export function storageAsArchived(inst: RealInstallation): Record<string, string> {
  const dir = makeTempDir("real-baluhost-expected-");
  try {
    execFileSync("cp", ["-rL", `${inst.storage}/.`, dir]);
    return hashTree(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
