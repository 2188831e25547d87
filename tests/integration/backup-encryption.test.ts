/**
 * Encrypted backups through the real pipeline: made encrypted when encryption is on, opened
 * by the standard age tool and GNU tar, verified, restored (chains, the safety backup),
 * imported from `tar czf | age -r`, and refused, with nothing changed, for a wrong key, a
 * modified byte or a cut file.
 */
import { execFileSync, execSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backups } from "@/db/schema";
import { archivePath } from "@/server/backup/catalog";
import { generateIdentity, parseHeader } from "@/server/backup/crypto";
import { passphrasePath, saveEncryptionSettings } from "@/server/backup/encryption";
import { runRestoreDrill } from "@/server/backup/drill/drill";
import { importBackup, verifyBackup } from "@/server/backup/import";
import { applyRetention } from "@/server/backup/retention";
import { saveRetentionSettings } from "@/server/backup/settings";
import { restoreArchiveFile } from "@/server/backup/restore/from-file";
import { restoreBackup } from "@/server/backup/restore/restore";
import { createBackup } from "@/server/backup/service";
import { AppError } from "@/server/errors";
import { hashTree, writeFiles, writeRandomFile } from "../helpers/files";
import { createTestApp, makeTempDir, type TestApp } from "../helpers/test-app";

const PASSPHRASE = "a long enough passphrase";

function seed(app: TestApp): void {
  writeFiles(app.config.storagePath, { "a.txt": "original a\n", "dir/b.txt": "original b\n" });
  writeRandomFile(path.join(app.config.storagePath, "photos/big.bin"), 3 * 1024 * 1024 + 17);
}

async function backup(app: TestApp, type: "full" | "incremental" = "full") {
  const row = await createBackup({ db: app.db, config: app.config, actor: app.admin, input: { backup_type: type, wait: true } });
  expect(row.status, row.errorMessage ?? "").toBe("completed");
  return row;
}

function fileOf(app: TestApp, row: { filename: string; archiveDir?: string }): string {
  return archivePath(app.config, row);
}

async function refusal(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe("encrypted backups", () => {
  let app: TestApp;
  let work: string;
  beforeEach(() => {
    app = createTestApp();
    work = makeTempDir("bh-enc-work-");
    seed(app);
  });
  afterEach(async () => {
    await app.cleanup();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("passphrase mode: the archive is .tar.gz.age, the passphrase is kept 0600 outside the backups, and age + GNU tar open it", async () => {
    await saveEncryptionSettings(app.db, app.config, { mode: "passphrase", passphrase: PASSPHRASE });
    expect(fs.statSync(passphrasePath(app.config)).mode & 0o777).toBe(0o600);
    expect(passphrasePath(app.config).startsWith(app.config.backupPath)).toBe(false);
    const row = await backup(app);
    expect(row.filename).toMatch(/^backup_\d{8}_\d{6}\.tar\.gz\.age$/);
    expect(row.encryption).toBe("passphrase");
    const file = fileOf(app, row);
    const bytes = fs.readFileSync(file);
    expect(bytes.subarray(0, 22).toString()).toBe("age-encryption.org/v1\n");
    expect(bytes.includes(Buffer.from("original a"))).toBe(false);
    expect(bytes.includes(Buffer.from(PASSPHRASE))).toBe(false);
    expect(row.sizeBytes).toBe(bytes.length);
    // age asks for the passphrase on a terminal: script(1) gives it one.
    const plain = path.join(work, "plain.tar.gz");
    execFileSync("script", ["-qec", `age -d -o ${plain} ${file}`, "/dev/null"], { input: `${PASSPHRASE}\n` });
    const listing = execFileSync("tar", ["tzf", plain]).toString();
    expect(listing).toContain("backup/files/a.txt");
    expect(listing).toContain("backup/manifest.json");
  });

  it("recipients mode: age -d -i key.txt | tar xzf - gives back the files; the server cannot decrypt without the identity", async () => {
    const keyFile = path.join(work, "key.txt");
    execFileSync("age-keygen", ["-o", keyFile], { stdio: "ignore" });
    const recipient = execFileSync("age-keygen", ["-y", keyFile]).toString().trim();
    await saveEncryptionSettings(app.db, app.config, { mode: "recipients", recipients: [recipient] });
    const row = await backup(app);
    expect(row.encryptionRecipients).toEqual([recipient]);
    const out = path.join(work, "out");
    fs.mkdirSync(out);
    execSync(`age -d -i ${keyFile} ${fileOf(app, row)} | tar xzf - -C ${out}`);
    expect(hashTree(path.join(out, "backup/files"))).toEqual(hashTree(app.config.storagePath));

    // Verify without a key: structure, size and checksum, and it says so.
    const verified = await verifyBackup({ db: app.db, config: app.config, actor: app.admin, id: row.id });
    expect(verified).toMatchObject({ verifyStatus: "ok", verifyScope: "structure" });
    // With the identity: a full verification.
    const identity = fs.readFileSync(keyFile, "utf8");
    const full = await verifyBackup({ db: app.db, config: app.config, actor: app.admin, id: row.id, keys: { identities: identity.split("\n").filter((l) => l.startsWith("AGE-")) } });
    expect(full).toMatchObject({ verifyStatus: "ok", verifyScope: "full" });
    // Restore without the identity is refused, asking for it.
    const err = await refusal(restoreBackup({ db: app.db, config: app.config, actor: app.admin, backupId: row.id, parts: { database: true, files: true, config: false }, confirm: true }));
    expect(err.code).toBe("KEY_REQUIRED");
  });

  it("restores an encrypted incremental chain, and the safety backup taken before it is encrypted too", async () => {
    const { identity, recipient } = generateIdentity();
    await saveEncryptionSettings(app.db, app.config, { mode: "recipients", recipients: [recipient] });
    const full = await backup(app);
    writeFiles(app.config.storagePath, { "later.txt": "added after the full backup\n" });
    fs.rmSync(path.join(app.config.storagePath, "dir"), { recursive: true });
    const inc = await backup(app, "incremental");
    expect(inc).toMatchObject({ backupType: "incremental", parentId: full.id, encryption: "recipients" });
    const expected = hashTree(app.config.storagePath);
    writeFiles(app.config.storagePath, { "a.txt": "changed\n", "junk.txt": "junk\n" });

    const outcome = await restoreBackup({
      db: app.db, config: app.config, actor: app.admin, backupId: inc.id,
      parts: { database: true, files: true, config: false }, confirm: true, keys: { identities: [identity] },
    });
    expect(hashTree(app.config.storagePath)).toEqual(expected);
    const safety = app.db.select().from(backups).where(eq(backups.id, outcome.safety_backup_id)).get()!;
    expect(safety).toMatchObject({ origin: "safety", encryption: "recipients" });
    expect(safety.filename).toMatch(/\.tar\.gz\.age$/);
  });

  it("an encrypted chain opens with standard tools: age -d | tar xzf, oldest first", async () => {
    const keyFile = path.join(work, "key.txt");
    execFileSync("age-keygen", ["-o", keyFile], { stdio: "ignore" });
    const recipient = execFileSync("age-keygen", ["-y", keyFile]).toString().trim();
    await saveEncryptionSettings(app.db, app.config, { mode: "recipients", recipients: [recipient] });
    const full = await backup(app);
    writeFiles(app.config.storagePath, { "later.txt": "added after the full backup\n", "a.txt": "changed a\n" });
    const inc = await backup(app, "incremental");
    const out = path.join(work, "chain");
    fs.mkdirSync(out);
    for (const row of [full, inc]) execSync(`age -d -i ${keyFile} ${fileOf(app, row)} | tar xzf - -C ${out}`);
    expect(hashTree(path.join(out, "backup/files"))).toEqual(hashTree(app.config.storagePath));
  });

  it("a wrong passphrase is refused before anything is touched", async () => {
    await saveEncryptionSettings(app.db, app.config, { mode: "passphrase", passphrase: PASSPHRASE });
    const row = await backup(app);
    // The server forgets its copy: only the admin's (wrong) passphrase is tried.
    fs.rmSync(passphrasePath(app.config));
    writeFiles(app.config.storagePath, { "a.txt": "changed\n" });
    const before = hashTree(app.config.storagePath);
    const count = app.db.select().from(backups).all().length;
    const err = await refusal(restoreBackup({
      db: app.db, config: app.config, actor: app.admin, backupId: row.id,
      parts: { database: true, files: true, config: false }, confirm: true, keys: { passphrases: ["not the passphrase"] },
    }));
    expect(err.code).toBe("WRONG_KEY");
    expect(err.message).toMatch(/passphrase/);
    expect(hashTree(app.config.storagePath)).toEqual(before);
    expect(app.db.select().from(backups).all().length).toBe(count); // no safety backup either
  });

  it.each([
    ["the header", (_size: number, headerLength: number) => headerLength - 5],
    ["a middle chunk", (size: number) => Math.floor(size / 2)],
    ["the last chunk", (size: number) => size - 30],
  ])("a byte flipped in %s: the restore is refused and nothing changes", async (_name, where) => {
    const { identity, recipient } = generateIdentity();
    await saveEncryptionSettings(app.db, app.config, { mode: "recipients", recipients: [recipient] });
    const row = await backup(app);
    const file = fileOf(app, row);
    const bytes = fs.readFileSync(file);
    bytes[where(bytes.length, parseHeader(bytes).length)] ^= 0x04;
    fs.writeFileSync(file, bytes);
    writeFiles(app.config.storagePath, { "a.txt": "changed\n" });
    const before = hashTree(app.config.storagePath);
    const err = await refusal(restoreBackup({
      db: app.db, config: app.config, actor: app.admin, backupId: row.id,
      parts: { database: true, files: true, config: false }, confirm: true, keys: { identities: [identity] },
    }));
    expect(err.code).toBe("ARCHIVE_INVALID");
    expect(hashTree(app.config.storagePath)).toEqual(before);
  });

  it("a cut archive is refused as truncated, and verify marks it damaged", async () => {
    await saveEncryptionSettings(app.db, app.config, { mode: "passphrase", passphrase: PASSPHRASE });
    const row = await backup(app);
    const file = fileOf(app, row);
    const header = parseHeader(fs.readFileSync(file)).length;
    fs.truncateSync(file, header + 16 + 2 * (64 * 1024 + 16)); // at a chunk boundary
    const err = await refusal(restoreBackup({
      db: app.db, config: app.config, actor: app.admin, backupId: row.id, parts: { database: true, files: true, config: false }, confirm: true,
    }));
    expect(err.message).toMatch(/truncated/);
    const verified = await verifyBackup({ db: app.db, config: app.config, actor: app.admin, id: row.id });
    expect(verified.verifyStatus).toBe("failed");
  });

  it("imports and restores an archive made with tar czf | age -r", async () => {
    const { identity, recipient } = generateIdentity();
    const src = path.join(work, "src");
    writeFiles(path.join(src, "backup/files"), { "from-outside.txt": "made with GNU tar\n" });
    const made = path.join(work, "outside.tar.gz.age");
    execSync(`tar czf - -C ${src} backup | age -r ${recipient} -o ${made}`);
    const row = await importBackup({ db: app.db, config: app.config, actor: app.admin, source: { path: made }, origin: "imported", keys: { identities: [identity] } });
    expect(row.filename).toMatch(/\.tar\.gz\.age$/);
    expect(row.encryption).toBe("recipients");
    await restoreBackup({
      db: app.db, config: app.config, actor: app.admin, backupId: row.id,
      parts: { database: false, files: true, config: false }, confirm: true, keys: { identities: [identity] },
    });
    expect(fs.readFileSync(path.join(app.config.storagePath, "from-outside.txt"), "utf8")).toBe("made with GNU tar\n");
  });

  it("restores an encrypted file read once (backup restore FILE) with its passphrase, cataloguing the encrypted copy", async () => {
    await saveEncryptionSettings(app.db, app.config, { mode: "passphrase", passphrase: PASSPHRASE });
    const row = await backup(app);
    const outside = path.join(work, row.filename);
    fs.copyFileSync(fileOf(app, row), outside);
    // As on a fresh machine: encryption off, no passphrase kept; the admin gives it.
    await saveEncryptionSettings(app.db, app.config, { mode: "off" }, { forgetPassphrase: true });
    expect(fs.existsSync(passphrasePath(app.config))).toBe(false);
    const expected = hashTree(app.config.storagePath);
    writeFiles(app.config.storagePath, { "a.txt": "changed\n" });
    const outcome = await restoreArchiveFile({
      db: app.db, config: app.config, actor: app.admin, file: outside,
      parts: { database: true, files: true, config: false }, confirm: true, keys: { passphrases: [PASSPHRASE] },
    });
    expect(hashTree(app.config.storagePath)).toEqual(expected);
    const copy = app.db.select().from(backups).where(eq(backups.id, outcome.backup_id)).get()!;
    expect(copy).toMatchObject({ encryption: "passphrase" });
    expect(fs.readFileSync(fileOf(app, copy)).equals(fs.readFileSync(outside))).toBe(true);
  });

  it("a chain has one key: after encryption is switched on or the key changes, the next incremental is a full backup", async () => {
    const plain = await backup(app);
    await saveEncryptionSettings(app.db, app.config, { mode: "recipients", recipients: [generateIdentity().recipient] });
    const first = await backup(app, "incremental");
    expect(first).toMatchObject({ backupType: "full", parentId: null, encryption: "recipients" });
    const next = await backup(app, "incremental");
    expect(next).toMatchObject({ backupType: "incremental", parentId: first.id });
    await saveEncryptionSettings(app.db, app.config, { mode: "passphrase", passphrase: PASSPHRASE });
    expect(await backup(app, "incremental")).toMatchObject({ backupType: "full", parentId: null, encryption: "passphrase" });
    await saveEncryptionSettings(app.db, app.config, { mode: "off" });
    expect(await backup(app, "incremental")).toMatchObject({ backupType: "full", parentId: null, encryption: null });
    expect(plain.encryptionKeyId).toBeNull();
  });

  it("verify of a backup made under an earlier passphrase, without a key: checked without decrypting, not marked damaged", async () => {
    await saveEncryptionSettings(app.db, app.config, { mode: "passphrase", passphrase: PASSPHRASE });
    const row = await backup(app);
    await saveEncryptionSettings(app.db, app.config, { mode: "passphrase", passphrase: "another long passphrase" });
    const verified = await verifyBackup({ db: app.db, config: app.config, actor: app.admin, id: row.id });
    expect(verified).toMatchObject({ verifyStatus: "ok", verifyScope: "structure" });
    const full = await verifyBackup({ db: app.db, config: app.config, actor: app.admin, id: row.id, keys: { passphrases: [PASSPHRASE] } });
    expect(full).toMatchObject({ verifyStatus: "ok", verifyScope: "full" });
  });

  it("headless: BACKUP_ENCRYPTION_RECIPIENTS alone encrypts new backups", async () => {
    const { recipient } = generateIdentity();
    process.env.BACKUP_ENCRYPTION_RECIPIENTS = recipient;
    try {
      const row = await backup(app);
      expect(row).toMatchObject({ encryption: "recipients", encryptionRecipients: [recipient] });
      expect(row.filename).toMatch(/\.tar\.gz\.age$/);
    } finally {
      delete process.env.BACKUP_ENCRYPTION_RECIPIENTS;
    }
  });

  it("retention removes an encrypted archive like any other", async () => {
    await saveEncryptionSettings(app.db, app.config, { mode: "recipients", recipients: [generateIdentity().recipient] });
    const old = await backup(app);
    await backup(app);
    saveRetentionSettings(app.db, { max_count: 1, retention_days: 1 });
    const result = await applyRetention({ db: app.db, config: app.config, sweep: true, now: Date.now() + 3 * 86_400_000 });
    expect(result.deleted.map((d) => d.id)).toContain(old.id);
    expect(fs.existsSync(fileOf(app, old))).toBe(false);
  });

  it("a restore drill of a passphrase backup passes with the passphrase the server keeps", async () => {
    await saveEncryptionSettings(app.db, app.config, { mode: "passphrase", passphrase: PASSPHRASE });
    const row = await backup(app);
    const drill = await runRestoreDrill({ db: app.db, config: app.config, actor: app.admin, backupId: row.id });
    expect(drill.status, JSON.stringify(drill.checks)).toBe("passed");
  });

  it("an old unencrypted archive still restores after encryption is switched on", async () => {
    const plain = await backup(app);
    expect(plain.filename).toMatch(/\.tar\.gz$/);
    const expected = hashTree(app.config.storagePath);
    await saveEncryptionSettings(app.db, app.config, { mode: "recipients", recipients: [generateIdentity().recipient] });
    writeFiles(app.config.storagePath, { "a.txt": "changed\n" });
    await restoreBackup({ db: app.db, config: app.config, actor: app.admin, backupId: plain.id, parts: { database: true, files: true, config: false }, confirm: true });
    expect(hashTree(app.config.storagePath)).toEqual(expected);
  });
});
