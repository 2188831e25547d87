/**
 * Encryption through the doors: tRPC (settings, key pair, recovery sheet, restore and verify
 * with a key), REST (settings, keys in the restore body) and the CLI (set, show, restore
 * --passphrase-file / --identity, verify).
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { auditLog } from "@/db/schema";
import { passphrasePath } from "@/server/backup/encryption";
import { registerBackupCommands } from "@/server/cli/backups";
import { runCliInProcess } from "../helpers/cli";
import { hashTree, writeFiles } from "../helpers/files";
import { createTestApp, makeTempDir, type TestApp } from "../helpers/test-app";
import { GET as getEncryption, PUT as putEncryption } from "@/app/api/backups/encryption/route";
import { POST as restoreRoute } from "@/app/api/backups/[id]/restore/route";
import { idSegment, noSegment, restRequest, tokenFor } from "../helpers/rest";

const PASSPHRASE = "correct horse battery staple";

describe("encryption doors", () => {
  let app: TestApp;
  let work: string;
  beforeEach(() => {
    app = createTestApp();
    work = makeTempDir("bh-enc-doors-");
    writeFiles(app.config.storagePath, { "a.txt": "original\n" });
  });
  afterEach(async () => {
    await app.cleanup();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("tRPC: switching on needs the recovery sheet; the identity is never stored; restore and verify take a key", async () => {
    const api = app.caller(app.admin);
    const pair = await api.encryption.generateKeyPair();
    const sheet = await api.encryption.recoverySheet({ mode: "recipients", recipients: [pair.recipient], identity: pair.identity });
    expect(sheet.text).toContain(pair.identity);
    expect(sheet.text).toContain("age -d -i key.txt");
    await expect(api.encryption.update({ mode: "recipients", recipients: [pair.recipient] })).rejects.toThrow(/recovery sheet/);
    const settings = await api.encryption.update({ mode: "recipients", recipients: [pair.recipient], recovery_sheet_saved: true });
    expect(settings).toMatchObject({ mode: "recipients", recipients: [pair.recipient], passphrase_kept: false });
    // Nothing of the identity anywhere on the server: settings, secrets, audit.
    const everything = JSON.stringify(app.db.select().from(auditLog).all()) + fs.readdirSync(app.config.secretsPath).join();
    expect(everything).not.toContain(pair.identity);

    const made = await api.backup.create({ backup_type: "full", wait: true });
    const listed = (await api.backup.list()).backups.find((b) => b.id === made.id)!;
    expect(listed).toMatchObject({ encryption: "recipients", encryption_recipients: [pair.recipient] });
    expect((await api.backup.verify({ id: made.id })).verify_scope).toBe("structure");
    expect((await api.backup.verify({ id: made.id, identity: pair.identity })).verify_scope).toBe("full");
    await expect(api.backup.restore({ backup_id: made.id, confirm: true })).rejects.toThrow(/encrypted/);
    writeFiles(app.config.storagePath, { "a.txt": "changed\n" });
    await api.backup.restore({ backup_id: made.id, confirm: true, identity: `# a comment\n${pair.identity}\n` });
    expect(fs.readFileSync(path.join(app.config.storagePath, "a.txt"), "utf8")).toBe("original\n");
  });

  it("REST: settings read and written, a wrong passphrase in the restore body is 422 WRONG_KEY", async () => {
    const token = tokenFor(app, "admin");
    const put = await putEncryption(
      restRequest("/api/backups/encryption", { method: "PUT", token, json: { mode: "passphrase", passphrase: PASSPHRASE, recovery_sheet_saved: true } }),
      noSegment(),
    );
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ mode: "passphrase", passphrase_kept: true });
    const got = await (await getEncryption(restRequest("/api/backups/encryption", { token }), noSegment())).json();
    expect(JSON.stringify(got)).not.toContain(PASSPHRASE);

    const made = await app.caller(app.admin).backup.create({ backup_type: "full", wait: true });
    fs.rmSync(passphrasePath(app.config));
    const res = await restoreRoute(
      restRequest(`/api/backups/${made.id}/restore`, { method: "POST", token, json: { confirm: true, passphrase: "wrong wrong wrong" } }),
      idSegment(made.id),
    );
    expect(res.status).toBe(422);
    expect((await res.json()).error.code).toBe("WRONG_KEY");
  });

  it("CLI: encryption set writes the recovery sheet; restore --passphrase-file brings the files back", async () => {
    const passFile = path.join(work, "pass.txt");
    fs.writeFileSync(passFile, `${PASSPHRASE}\n`);
    const sheet = path.join(work, "sheet.txt");
    const groups = [registerBackupCommands];
    const set = await runCliInProcess(["backup", "encryption", "set", "--passphrase-file", passFile, "--recovery-sheet", sheet], { groups });
    expect(set.code, set.stderr).toBe(0);
    expect(fs.readFileSync(sheet, "utf8")).toContain(PASSPHRASE);
    expect((await runCliInProcess(["backup", "encryption", "show"], { groups })).stdout).toMatch(/encryption: passphrase/);

    const created = await runCliInProcess(["backup", "create", "--type", "full", "--json"], { groups });
    expect(created.code, created.stderr).toBe(0);
    const id = JSON.parse(created.stdout).id as number;
    const off = await runCliInProcess(["backup", "encryption", "off", "--forget-passphrase"], { groups });
    expect(off.code, off.stderr).toBe(0);
    expect(fs.existsSync(passphrasePath(app.config))).toBe(false);
    const expected = hashTree(app.config.storagePath);
    writeFiles(app.config.storagePath, { "a.txt": "changed\n" });
    const noKey = await runCliInProcess(["backup", "restore", String(id), "--yes"], { groups });
    expect(noKey.code).not.toBe(0);
    expect(noKey.stderr).toMatch(/passphrase/);
    const restored = await runCliInProcess(["backup", "restore", String(id), "--yes", "--passphrase-file", passFile], { groups });
    expect(restored.code, restored.stderr).toBe(0);
    expect(hashTree(app.config.storagePath)).toEqual(expected);
    const verify = await runCliInProcess(["backup", "verify", String(id)], { groups });
    expect(verify.stdout).toMatch(/without its key/);
  });
});
