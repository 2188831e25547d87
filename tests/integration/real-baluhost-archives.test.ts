/**
 * Archives made by the real BaluHost (Python tarfile, SQLAlchemy database copied raw with its
 * -wal/-shm, copytree without links, redacted config JSON, incrementals without a deletion
 * list), built by tests/fixtures/real_baluhost_backup.py, go through the REST routes with the
 * real client's request shapes: the upload body is the raw .tar.gz, the restore body is
 * {backup_id, restore_database, restore_files, restore_config, confirm: true}.
 */
import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { POST as restoreRoute } from "@/app/api/backups/[id]/restore/route";
import { POST as uploadRoute } from "@/app/api/backups/upload/route";
import { backups } from "@/db/schema";
import type { BackupRecord } from "@/server/backup/contract";
import { WORK_DIR } from "@/server/backup/restore/journal";
import { attemptLogin } from "@/server/auth/login";
import { gnuTarExtract, gnuTarList, hashTree, sha256File, writeFiles } from "../helpers/files";
import { realInstallation, storageAsArchived, type RealInstallation } from "../helpers/real-baluhost";
import { backupFolderNames, errorOf, idSegment, noSegment, tokenFor } from "../helpers/rest";
import { ADMIN_PASSWORD, createTestApp, makeTempDir, type TestApp } from "../helpers/test-app";

let app: TestApp;
let real: RealInstallation;
let token: string;

beforeEach(async () => {
  app = createTestApp();
  await app.ready; // start-up recovery holds the lock file for a moment
  real = realInstallation();
  token = tokenFor(app, "admin");
  // What this NAS holds already: a file the archive replaces, and files it does not name.
  writeFiles(app.config.storagePath, { "a.txt": "ours, to be replaced\n", "only-here/keep.txt": "not in the archive\n" });
  writeFiles(app.config.configPath, { "local.json": '{"mine":true}' });
});
afterEach(async () => {
  await app.cleanup();
  real.remove();
});

async function upload(file: string, query = ""): Promise<Response> {
  return uploadRoute(
    new Request(`http://localhost/api/backups/upload${query}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/gzip", "x-filename": encodeURIComponent(path.basename(file)) },
      body: fs.readFileSync(file),
    }),
    noSegment(),
  );
}

async function uploaded(file: string, query = ""): Promise<BackupRecord> {
  const res = await upload(file, query);
  if (res.status !== 201) throw new Error(`upload answered ${res.status}: ${JSON.stringify(await res.json())}`);
  return (await res.json()) as BackupRecord;
}

function restore(id: number, parts: { restore_database: boolean; restore_files: boolean; restore_config: boolean }): Promise<Response> {
  return restoreRoute(
    new Request(`http://localhost/api/backups/${id}/restore`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ backup_id: id, ...parts, confirm: true }),
    }),
    idSegment(id),
  );
}

/** Files, config and database as they are now; what a refused restore must leave alone. */
function liveState() {
  return {
    files: hashTree(app.config.storagePath),
    config: hashTree(app.config.configPath),
    database: sha256File(app.config.databasePath),
  };
}

function noStagingLeft(): boolean {
  return [app.config.storagePath, app.config.configPath, path.dirname(app.config.databasePath)].every((d) => !fs.existsSync(path.join(d, WORK_DIR)));
}

/** The app still serves after a restore: the router answers and the admin can sign in. */
async function expectAppWorks(): Promise<void> {
  expect((await app.caller(app.admin).backup.list()).backups.length).toBeGreaterThan(0);
  expect(attemptLogin(app.db, { username: "admin", password: ADMIN_PASSWORD, ip: "127.0.0.1" }).ok).toBe(true);
}

const FILES_ONLY = { restore_database: false, restore_files: true, restore_config: false };

describe("a full backup made by the real BaluHost", () => {
  it("is built the way the real backend builds it", () => {
    const names = gnuTarList(real.backup("full"));
    expect(names).toEqual(expect.arrayContaining(["backup", "backup/database/baluhost.db", "backup/database/baluhost.db-wal", "backup/database/baluhost.db-shm", "backup/files/empty-folder"]));
    expect(names).not.toContain("backup/manifest.json");
  });

  it("uploads as a full backup without a file list whose database is not restorable", async () => {
    const record = await uploaded(real.backup("full"));
    expect(record).toMatchObject({
      backup_type: "full",
      origin: "uploaded",
      includes_database: true,
      includes_files: true,
      includes_config: false,
      has_file_list: false,
      database_restorable: false,
      parent_id: null,
      file_count: Object.keys(storageAsArchived(real)).length,
      verify_status: "ok",
    });
  });

  it("refuses to restore its database with 422 before anything is touched, offering files and config only", async () => {
    const { id } = await uploaded(real.backup("full"));
    const before = liveState();
    const res = await restore(id, { restore_database: true, restore_files: true, restore_config: false });
    expect(res.status).toBe(422);
    const error = await errorOf(res);
    expect(error.message).toMatch(/another application's/);
    expect(error.message).toMatch(/restore_database: false/);
    expect(liveState()).toEqual(before);
    expect(noStagingLeft()).toBe(true);
    expect((await app.caller(app.admin).backup.list()).backups.map((b) => b.origin)).toEqual(["uploaded"]); // no safety backup either
    await expectAppWorks();
  });

  it("restores its files byte for byte, adding and replacing without deleting anything", async () => {
    const { id } = await uploaded(real.backup("full"));
    const res = await restore(id, FILES_ONLY);
    expect(res.status).toBe(200);
    const outcome = await res.json();
    expect(outcome.message).toMatch(/deleted since it was made cannot be known/);
    const live = hashTree(app.config.storagePath);
    expect(live).toEqual({ ...storageAsArchived(real), "only-here/keep.txt": expect.any(String) });
    expect(fs.readFileSync(path.join(app.config.storagePath, "only-here/keep.txt"), "utf8")).toBe("not in the archive\n");
    // copytree followed the links: they arrive as a real file and a real folder.
    expect(fs.lstatSync(path.join(app.config.storagePath, "link-to-a")).isFile()).toBe(true);
    expect(fs.lstatSync(path.join(app.config.storagePath, "link-to-docs")).isDirectory()).toBe(true);
    expect(fs.statSync(path.join(app.config.storagePath, "empty-folder")).isDirectory()).toBe(true);
    expect(noStagingLeft()).toBe(true);
    // The safety backup was still made.
    expect(await app.caller(app.admin).backup.get({ id: outcome.safety_backup_id })).toMatchObject({ origin: "safety", status: "completed" });
    await expectAppWorks();
  });
});

describe("a foreign database the catalog does not know as foreign", () => {
  it("is still refused from staging, before the restore commits", async () => {
    const { id } = await uploaded(real.backup("database_only"));
    // As if imported by a version that did not look at the database.
    app.db.update(backups).set({ foreignDatabase: false }).where(eq(backups.id, id)).run();
    const before = liveState();
    const res = await restore(id, { restore_database: true, restore_files: false, restore_config: false });
    expect(res.status).toBe(422);
    expect((await errorOf(res)).message).toMatch(/another application's/);
    expect(liveState()).toEqual(before);
    expect(noStagingLeft()).toBe(true);
    await expectAppWorks();
  });
});

describe("the other types made by the real BaluHost", () => {
  it("database_only uploads as such and its database is refused", async () => {
    const record = await uploaded(real.backup("database_only"));
    expect(record).toMatchObject({ backup_type: "database_only", includes_files: false, database_restorable: false, has_file_list: false });
    const before = liveState();
    const res = await restore(record.id, { restore_database: true, restore_files: false, restore_config: false });
    expect(res.status).toBe(422);
    expect((await errorOf(res)).message).toMatch(/another application's.*files and config only/);
    expect(liveState()).toEqual(before);
    await expectAppWorks();
  });

  it("files_only uploads as such and restores its files", async () => {
    const record = await uploaded(real.backup("files_only"));
    expect(record).toMatchObject({ backup_type: "files_only", includes_database: false, has_file_list: false });
    expect((await restore(record.id, FILES_ONLY)).status).toBe(200);
    expect(hashTree(app.config.storagePath)).toMatchObject(storageAsArchived(real));
    await expectAppWorks();
  });

  it("config-only uploads as config_only and its redacted JSON restores byte for byte into the config folder", async () => {
    const archive = real.backup("config_only");
    const record = await uploaded(archive);
    expect(record).toMatchObject({ backup_type: "config_only", includes_database: false, includes_files: false, includes_config: true });
    const res = await restore(record.id, { restore_database: false, restore_files: false, restore_config: true });
    expect(res.status).toBe(200);
    const extracted = gnuTarExtract(archive, makeTempDir());
    const expected = hashTree(path.join(extracted, "backup/config"));
    expect(Object.keys(expected).sort()).toEqual(["server.json", "sharing.json", "smtp.json"]);
    expect(hashTree(app.config.configPath)).toEqual({ ...expected, "local.json": expect.any(String) });
    const server = JSON.parse(fs.readFileSync(path.join(app.config.configPath, "server.json"), "utf8"));
    expect(server).toEqual({ name: "Wohnzimmer-NAS", port: 8000, secret_key: "***REDACTED***" });
    await expectAppWorks();
  });

  it("a full backup with config restores files and config together", async () => {
    const { id, includes_config } = await uploaded(real.backup("full", { config: true }));
    expect(includes_config).toBe(true);
    expect((await restore(id, { restore_database: false, restore_files: true, restore_config: true })).status).toBe(200);
    expect(fs.existsSync(path.join(app.config.configPath, "smtp.json"))).toBe(true);
    expect(fs.existsSync(path.join(app.config.configPath, "local.json"))).toBe(true);
    expect(hashTree(app.config.storagePath)).toMatchObject(storageAsArchived(real));
  });
});

describe("an incremental made by the real BaluHost after a full one", () => {
  it("is recognised from its own row in the archived database and needs no parent", async () => {
    // That row was written just before the copy and never checkpointed: it is only in the
    // archived -wal, so recognising it shows the -wal's last writes were applied.
    await uploaded(real.backup("full"));
    writeFiles(real.storage, { "new.txt": "added after the full\n" });
    const record = await uploaded(real.backup("incremental"));
    expect(record).toMatchObject({ backup_type: "incremental", parent_id: null, has_file_list: false, database_restorable: false });
  });

  it("adds and replaces the changed files and does not delete what was deleted after the full", async () => {
    const full = await uploaded(real.backup("full"));
    expect((await restore(full.id, FILES_ONLY)).status).toBe(200);
    // On the real NAS after the full: one file changed, one added, one deleted.
    fs.writeFileSync(path.join(real.storage, "a.txt"), "real a, second version\n");
    writeFiles(real.storage, { "photos/2024/new.jpg": "new photo\n" });
    fs.rmSync(path.join(real.storage, "docs/report.pdf"));
    const archive = real.backup("incremental");
    expect(gnuTarList(archive).filter((n) => n.startsWith("backup/files/"))).toEqual(
      expect.arrayContaining(["backup/files/a.txt", "backup/files/photos/2024/new.jpg"]),
    );
    expect(gnuTarList(archive)).not.toContain("backup/files/docs/report.pdf");
    const inc = await uploaded(archive);

    expect((await restore(inc.id, FILES_ONLY)).status).toBe(200);
    const storage = app.config.storagePath;
    expect(fs.readFileSync(path.join(storage, "a.txt"), "utf8")).toBe("real a, second version\n");
    expect(fs.readFileSync(path.join(storage, "photos/2024/new.jpg"), "utf8")).toBe("new photo\n");
    expect(fs.existsSync(path.join(storage, "docs/report.pdf"))).toBe(true); // deletions cannot be known
    expect(fs.existsSync(path.join(storage, "photos/2024/deep/er/nested.txt"))).toBe(true);
    await expectAppWorks();
  });

  it("can be declared incremental on upload (?backup_type=incremental) when the contents cannot tell", async () => {
    const record = await uploaded(real.backup("files_only"), "?backup_type=incremental");
    expect(record).toMatchObject({ backup_type: "incremental", parent_id: null, has_file_list: false });
  });

  it("refuses a declared type the contents contradict, and an unknown one, keeping nothing", async () => {
    const before = backupFolderNames(app);
    const contradicted = await upload(real.backup("config_only"), "?backup_type=full");
    expect(contradicted.status).toBe(400);
    expect((await errorOf(contradicted)).message).toMatch(/cannot be a full backup: it holds config/);
    const unknown = await upload(real.backup("files_only"), "?backup_type=weekly");
    expect(unknown.status).toBe(400);
    expect(backupFolderNames(app)).toEqual(before);
  });
});

describe("hostile copies of a real BaluHost archive", () => {
  it.each(["symlink-out", "dotdot", "absolute", "hardlink"] as const)("with %s are refused at upload, leaving nothing behind", async (hostile) => {
    const before = backupFolderNames(app);
    const res = await upload(real.backup("files_only", { hostile }));
    expect(res.status).toBe(422);
    expect((await errorOf(res)).code).toBe("ARCHIVE_INVALID");
    expect(backupFolderNames(app)).toEqual(before);
    expect(fs.existsSync("/tmp/baluhost-absolute.txt")).toBe(false);
    expect(fs.existsSync(path.join(app.config.storagePath, "..", "..", "escaped.txt"))).toBe(false);
  });
});
