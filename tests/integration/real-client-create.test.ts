/**
 * POST /api/backups as the real BaluHost's client sends it: no backup_type, the three
 * includes and an empty backup_path, and it expects the finished backup back (201,
 * completed) so it can list or download right away.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { POST as cancelRoute } from "@/app/api/backups/[id]/cancel/route";
import { downloadBackupRoute as downloadRoute } from "@/server/http/backup-download";
import { POST as restoreRoute } from "@/app/api/backups/[id]/restore/route";
import { DELETE as deleteRoute } from "@/app/api/backups/[id]/route";
import { GET as listRoute, POST as createRoute } from "@/app/api/backups/route";
import { backups } from "@/db/schema";
import type { BackupList, BackupRecord } from "@/server/backup/contract";
import { gnuTarList, hashTree, writeFiles, writeRandomFile } from "../helpers/files";
import { backupFolderNames, errorOf, idSegment, noSegment, restRequest, tokenFor } from "../helpers/rest";
import { createTestApp, type TestApp } from "../helpers/test-app";

describe("creating backups with the real BaluHost client's requests", () => {
  let app: TestApp;
  let token: string;

  beforeEach(async () => {
    app = createTestApp();
    await app.ready;
    token = tokenFor(app, "admin");
    writeFiles(app.config.storagePath, { "notes.txt": "hello\n", "photos/beach.jpg": crypto.randomBytes(32 * 1024) });
    writeFiles(app.config.configPath, { "baluhost.conf": "share_name=family\n" });
  });

  afterEach(() => app.cleanup());

  const post = (json: unknown, headers?: Record<string, string>) =>
    createRoute(restRequest("/api/backups", { method: "POST", token, json, headers }), noSegment());

  async function created(res: Response): Promise<BackupRecord> {
    expect(res.status).toBe(201);
    return (await res.json()) as BackupRecord;
  }

  const rows = () => app.db.select().from(backups).all();

  it("makes a full backup from the real UI's body (no backup_type, an empty backup_path) and answers it completed", async () => {
    const res = await post({ includes_database: true, includes_files: true, includes_config: false, backup_path: "" });
    const record = await created(res);
    expect(record).toMatchObject({ status: "completed", backup_type: "full", includes_database: true, includes_files: true, backup_path: "" });
    expect(res.headers.get("location")).toBe(`/api/backups/${record.id}`);
    // The client lists and downloads right after create returns.
    const list = (await (await listRoute(restRequest("/api/backups", { token }), noSegment())).json()) as BackupList;
    expect(list.backups.map((b) => b.id)).toContain(record.id);
    const download = await downloadRoute(restRequest(`/api/backups/${record.id}/download`, { token }), idSegment(record.id));
    expect(download.status).toBe(200);
    expect(Number(download.headers.get("content-length"))).toBe(record.size_bytes);
    await download.body?.cancel();
  });

  it("derives database_only from a body with the database and without the files", async () => {
    const record = await created(await post({ includes_database: true, includes_files: false }));
    expect(record).toMatchObject({ backup_type: "database_only", includes_database: true, includes_files: false, status: "completed" });
  });

  it("derives files_only from a body with the files and without the database", async () => {
    const record = await created(await post({ includes_database: false, includes_files: true, includes_config: false, backup_path: "" }));
    expect(record).toMatchObject({ backup_type: "files_only", includes_database: false, includes_files: true });
  });

  it("makes a config-only backup holding the config folder alone, which restores with the real client's restore body", async () => {
    const record = await created(await post({ includes_database: false, includes_files: false, includes_config: true, backup_path: "" }));
    expect(record).toMatchObject({ backup_type: "config_only", includes_database: false, includes_files: false, includes_config: true });
    const names = gnuTarList(path.join(app.config.backupPath, record.filename));
    expect(names).toContain("backup/config/baluhost.conf");
    expect(names.some((n) => n.startsWith("backup/files") || n.startsWith("backup/database"))).toBe(false);

    fs.writeFileSync(path.join(app.config.configPath, "baluhost.conf"), "share_name=changed\n");
    const storageBefore = hashTree(app.config.storagePath);
    const res = await restoreRoute(
      restRequest(`/api/backups/${record.id}/restore`, { method: "POST", token, json: { backup_id: record.id, confirm: true } }),
      idSegment(record.id),
    );
    expect(res.status).toBe(200);
    expect(fs.readFileSync(path.join(app.config.configPath, "baluhost.conf"), "utf8")).toBe("share_name=family\n");
    expect(hashTree(app.config.storagePath)).toEqual(storageBefore);
  });

  it("keeps the type's own rules when backup_type is given", async () => {
    const res = await post({ backup_type: "full", includes_files: false });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toMatch(/full backup includes the database and the files/);
  });

  it("answers 400 to a body that leaves everything out, creating nothing", async () => {
    const res = await post({ includes_database: false, includes_files: false, includes_config: false });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toMatch(/Nothing to back up/);
    expect(rows()).toEqual([]);
  });

  describe("backup_path", () => {
    it("writes the archive into a folder inside the backup folder and records where it went", async () => {
      const record = await created(await post({ includes_database: true, includes_files: true, backup_path: "weekly" }));
      const file = path.join(app.config.backupPath, "weekly", record.filename);
      expect(fs.statSync(file).size).toBe(record.size_bytes);
      expect(record.backup_path).toBe("weekly");
      expect(record.filepath).toBe(file);
      expect(fs.existsSync(path.join(app.config.backupPath, record.filename))).toBe(false);

      const download = await downloadRoute(restRequest(`/api/backups/${record.id}/download`, { token }), idSegment(record.id));
      expect(Buffer.from(await download.arrayBuffer()).equals(fs.readFileSync(file))).toBe(true);
      const deleted = await deleteRoute(restRequest(`/api/backups/${record.id}`, { method: "DELETE", token }), idSegment(record.id));
      expect(deleted.status).toBe(204);
      expect(fs.existsSync(file)).toBe(false);
    });

    it("accepts the backup folder's absolute path and a folder inside it given absolutely", async () => {
      const plain = await created(await post({ backup_path: app.config.backupPath }));
      expect(plain.backup_path).toBe("");
      const nested = await created(await post({ backup_path: path.join(app.config.backupPath, "nas", "daily") }));
      expect(nested.backup_path).toBe("nas/daily");
      expect(fs.existsSync(path.join(app.config.backupPath, "nas", "daily", nested.filename))).toBe(true);
    });

    it("restores a backup written to a folder inside the backup folder", async () => {
      const record = await created(await post({ backup_path: "before-upgrade" }));
      fs.writeFileSync(path.join(app.config.storagePath, "notes.txt"), "overwritten\n");
      const res = await restoreRoute(
        restRequest(`/api/backups/${record.id}/restore`, {
          method: "POST",
          token,
          json: { backup_id: record.id, restore_database: true, restore_files: true, restore_config: false, confirm: true },
        }),
        idSegment(record.id),
      );
      expect(res.status).toBe(200);
      expect(fs.readFileSync(path.join(app.config.storagePath, "notes.txt"), "utf8")).toBe("hello\n");
    });

    const refused: Array<[string, (app: TestApp) => string, RegExp]> = [
      ["a folder elsewhere on the system", () => "/etc", /outside the backup folder/],
      ["the parent of the backup folder", () => "..", /outside the backup folder/],
      ["a path climbing out with ..", () => "weekly/../../escape", /outside the backup folder/],
      ["the storage folder", (a) => a.config.storagePath, /outside the backup folder|storage folder/],
      ["one of our hidden work folders", () => ".manifests", /hidden folder/],
      ["a name with a backslash", () => "a\\b", /backslash/],
    ];
    for (const [what, requested, message] of refused) {
      it(`refuses ${what} with a 400 that says where backups may go, writing nothing`, async () => {
        const before = backupFolderNames(app);
        const res = await post({ includes_database: true, includes_files: true, backup_path: requested(app) });
        expect(res.status).toBe(400);
        const error = await errorOf(res);
        expect(error.message).toMatch(message);
        expect(error.message).toContain(`Backups may only be written to the backup folder (${app.config.backupPath})`);
        expect(rows()).toEqual([]);
        expect(backupFolderNames(app)).toEqual(before);
        expect(fs.existsSync("/etc/backup_")).toBe(false);
      });
    }

    it("refuses a folder reached through a symbolic link that leads out of the backup folder", async () => {
      const outside = path.join(app.root, "elsewhere");
      fs.mkdirSync(outside);
      fs.symlinkSync(outside, path.join(app.config.backupPath, "usb"));
      const res = await post({ backup_path: "usb/weekly" });
      expect(res.status).toBe(400);
      expect((await errorOf(res)).message).toMatch(/symbolic link/);
      expect(fs.readdirSync(outside).filter((n) => n.endsWith(".tar.gz"))).toEqual([]);
      expect(rows()).toEqual([]);
    });
  });

  describe("the answer of a backup that does not finish", () => {
    it("answers a cancelled synchronous create with the error and the failed record's id", async () => {
      writeRandomFile(path.join(app.config.storagePath, "videos/big.bin"), 160 * 1024 * 1024);
      const answer = post({ includes_database: true, includes_files: true });
      let running: { id: number } | undefined;
      for (let i = 0; i < 400 && !running; i++) {
        await new Promise((r) => setTimeout(r, 5));
        running = rows().find((r) => r.status === "in_progress");
      }
      expect(running).toBeDefined();
      const cancel = await cancelRoute(restRequest(`/api/backups/${running!.id}/cancel`, { method: "POST", token }), idSegment(running!.id));
      expect(cancel.status).toBe(202);

      const res = await answer;
      expect(res.status).toBe(409);
      const body = (await res.json()) as { error: { code: string; message: string; backup_id: number; backup: BackupRecord } };
      expect(body.error.code).toBe("BACKUP_CANCELLED");
      expect(body.error.message).toMatch(/Cancelled by admin/);
      expect(body.error.backup_id).toBe(running!.id);
      expect(body.error.backup.status).toBe("failed");
      expect(res.headers.get("location")).toBe(`/api/backups/${running!.id}`);
      expect(fs.readdirSync(app.config.backupPath).filter((n) => n.endsWith(".tar.gz"))).toEqual([]);
    });
  });
});
