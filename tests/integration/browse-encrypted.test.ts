/**
 * Browsing and selective restore of encrypted backups: the listing comes from the manifest
 * copy beside the archives, file contents are decrypted from the age payload at the seek
 * index's offsets with the key the server keeps, and without a key the admin is told why.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "@/server/audit";
import { listBackupFolder, openBackupFile, openBackupFolderArchive } from "@/server/backup/browse/browse";
import { restorePaths } from "@/server/backup/browse/restore-paths";
import { generateIdentity } from "@/server/backup/crypto";
import { saveEncryptionSettings } from "@/server/backup/encryption";
import { createBackup } from "@/server/backup/service";
import { writeFiles, writeRandomFile } from "../helpers/files";
import { createTestApp, type TestApp } from "../helpers/test-app";

async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe("browsing an encrypted backup", () => {
  let app: TestApp;
  let big: Buffer;
  beforeEach(() => {
    app = createTestApp();
    writeFiles(app.config.storagePath, { "alice/docs/report.txt": "report v1\n", "bob/notes.md": "bob's notes\n" });
    writeRandomFile(path.join(app.config.storagePath, "alice/photos/big.bin"), 3 * 1024 * 1024 + 17);
    big = fs.readFileSync(path.join(app.config.storagePath, "alice/photos/big.bin"));
  });
  afterEach(() => app.cleanup());

  const backup = async () => {
    const row = await createBackup({ db: app.db, config: app.config, actor: SYSTEM_ACTOR, input: { backup_type: "full", wait: true } });
    expect(row.status, row.errorMessage ?? "").toBe("completed");
    expect(row.filename).toMatch(/\.tar\.gz\.age$/);
    return row;
  };

  it("passphrase mode: lists folders, reads a file byte for byte, builds a folder archive and restores a path", async () => {
    await saveEncryptionSettings(app.db, app.config, { mode: "passphrase", passphrase: "a long enough passphrase" });
    const row = await backup();
    const alice = await listBackupFolder({ db: app.db, config: app.config, id: row.id, path: "files/alice" });
    expect(alice.entries.map((e) => e.name)).toEqual(["docs", "photos"]);
    const file = await openBackupFile({ db: app.db, config: app.config, id: row.id, path: "files/alice/photos/big.bin" });
    expect((await readAll(file.stream)).equals(big)).toBe(true);
    const folder = await openBackupFolderArchive({ db: app.db, config: app.config, id: row.id, path: "files/bob" });
    expect((await readAll(folder.stream)).length).toBeGreaterThan(20);
    fs.rmSync(path.join(app.config.storagePath, "alice/docs"), { recursive: true });
    await restorePaths({ db: app.db, config: app.config, actor: SYSTEM_ACTOR, id: row.id, paths: ["files/alice/docs"], destination: "original", overwrite: false });
    expect(fs.readFileSync(path.join(app.config.storagePath, "alice/docs/report.txt"), "utf8")).toBe("report v1\n");
  });

  it("public-key mode without the private key: folders list, a file read says the server cannot decrypt it", async () => {
    const { recipient } = generateIdentity();
    await saveEncryptionSettings(app.db, app.config, { mode: "recipients", recipients: [recipient] });
    const row = await backup();
    const root = await listBackupFolder({ db: app.db, config: app.config, id: row.id, path: "files" });
    expect(root.entries.map((e) => e.name)).toEqual(["alice", "bob"]);
    await expect(openBackupFile({ db: app.db, config: app.config, id: row.id, path: "files/bob/notes.md" })).rejects.toMatchObject({ code: "KEY_REQUIRED" });
  });
});
