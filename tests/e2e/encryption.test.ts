/**
 * Encryption through the Backup tab, in a real browser: the card sets up public-key
 * encryption with a generated key pair and will not switch on before the recovery sheet is
 * saved; the next backup is a .tar.gz.age that `age -d -i` + tar open; the list shows the lock;
 * a restore without the key is refused, with it the files come back. Leaves encryption off.
 */
import { execFileSync, execSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ADMIN_PASSWORD } from "./support/context";
import { expectNoSeriousA11yViolations } from "./support/a11y";
import { e2e, launchBrowser, newContext, screenshot, signIn } from "./support/browser";
import { e2eCliEnv, REPO_ROOT } from "./support/cli";

let browser: Browser;
let page: Page;
let work: string;

const dialog = (name: string | RegExp) => page.getByRole("dialog", { name });
const rowNamed = (filename: string) =>
  page.locator('tbody tr[data-testid^="backup-row-"]').filter({ has: page.locator('td[data-label="Backup"]', { hasText: filename }) });

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "bh-e2e-enc-"));
  browser = await launchBrowser();
  const context = await newContext(browser);
  page = await context.newPage();
  await signIn(page, "admin", ADMIN_PASSWORD);
  await page.goto("/settings/backup");
  await page.getByTestId("encryption-card").waitFor();
});

afterAll(async () => {
  await browser?.close();
  fs.rmSync(work, { recursive: true, force: true });
  const db = new Database(e2e().databasePath);
  try {
    db.pragma("busy_timeout = 5000");
    db.prepare("DELETE FROM settings WHERE key LIKE 'backup.encryption.%'").run();
  } finally {
    db.close();
  }
  // The files after this one drill the newest backup, which the server must be able to read:
  // a plain one, as before this file.
  execFileSync(process.execPath, ["--import", "tsx", "server/cli.ts", "backup", "create", "--type", "full"], { cwd: REPO_ROOT, env: e2eCliEnv(), stdio: "ignore" });
});

describe("backup encryption in the Backup tab", () => {
  let identity = "";
  let filename = "";

  test("set up with a generated key pair: the switch waits for the recovery sheet", async () => {
    const card = page.getByTestId("encryption-card");
    expect(await card.getByTestId("encryption-mode").innerText()).toMatch(/Off/);
    await card.getByRole("button", { name: "Set up encryption" }).click();
    const setup = dialog("Set up backup encryption");
    await setup.waitFor();
    await setup.getByRole("radio", { name: /Public keys/ }).check();
    await setup.getByRole("button", { name: "Generate a key pair" }).click();
    await setup.getByText("A new key pair was made").waitFor();
    await expectNoSeriousA11yViolations(page, "encryption dialog", { include: "dialog[open]" });
    await setup.getByRole("button", { name: "Next: recovery sheet" }).click();

    const sheetDialog = dialog("Save the recovery sheet");
    await sheetDialog.waitFor();
    const sheet = await sheetDialog.getByLabel("Recovery sheet", { exact: true }).inputValue();
    identity = sheet.split("\n").map((l) => l.trim()).find((l) => l.startsWith("AGE-SECRET-KEY-1")) ?? "";
    expect(identity).toMatch(/^AGE-SECRET-KEY-1/);
    expect(sheet).toContain("age -d -i key.txt");
    const switchOn = sheetDialog.getByTestId("encryption-switch-on");
    expect(await switchOn.isDisabled()).toBe(true);
    expect(await sheetDialog.getByTestId("encryption-stored").isDisabled()).toBe(true);
    const [download] = await Promise.all([page.waitForEvent("download"), sheetDialog.getByTestId("encryption-download-sheet").click()]);
    const saved = path.join(work, "sheet.txt");
    await download.saveAs(saved);
    expect(fs.readFileSync(saved, "utf8")).toContain(identity);
    expect(await switchOn.isDisabled()).toBe(true);
    await sheetDialog.getByTestId("encryption-stored").check();
    await screenshot(page, "encryption-recovery-sheet", { fullPage: false });
    await switchOn.click();
    await sheetDialog.waitFor({ state: "detached" });
    await expect.poll(() => page.getByTestId("encryption-mode").innerText()).toMatch(/On/);
    expect(await page.getByTestId("encryption-card").innerText()).toMatch(/age1/);
  });

  test("the next backup is a .tar.gz.age with a lock in the list, and age -d + tar open it", async () => {
    await page.getByRole("button", { name: "Create backup" }).first().click();
    const create = dialog("Create backup");
    await create.getByRole("button", { name: "Create backup" }).click();
    // The new row (the list follows within seconds): the only encrypted one.
    const row = page.locator('tbody tr[data-testid^="backup-row-"]').filter({ hasText: ".tar.gz.age" }).first();
    await row.waitFor({ timeout: 60_000 });
    await expect.poll(() => row.getAttribute("data-status"), { timeout: 60_000 }).toBe("completed");
    filename = (await row.locator('td[data-label="Backup"] .mono').first().innerText()).replace(/\s+/g, "");
    expect(filename).toMatch(/\.tar\.gz\.age$/);
    expect(await row.getByTestId("backup-encrypted").innerText()).toMatch(/Encrypted/);

    const keyFile = path.join(work, "key.txt");
    fs.writeFileSync(keyFile, `${identity}\n`);
    const listing = execSync(`age -d -i ${keyFile} ${path.join(e2e().backupPath, filename)} | tar tzf -`).toString();
    expect(listing).toContain("backup/manifest.json");
    expect(execFileSync("head", ["-c", "21", path.join(e2e().backupPath, filename)]).toString()).toBe("age-encryption.org/v1");
  });

  test("Verify without the key checks the structure and says so; Verify with key checks the contents", async () => {
    const row = rowNamed(filename);
    await row.getByRole("button", { name: `Verify ${filename}`, exact: true }).click();
    await expect.poll(() => row.getByTestId("backup-verification").innerText(), { timeout: 60_000 }).toMatch(/Checked without key/);

    await row.getByTestId("verify-with-key").click();
    const withKey = dialog(`Verify ${filename} with its key`);
    await withKey.waitFor();
    await expectNoSeriousA11yViolations(page, "verify-key-dialog");
    const other = execFileSync("age-keygen").toString().split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"))!;
    await withKey.getByTestId("verify-key").fill(other);
    await withKey.getByTestId("verify-key-submit").click();
    await withKey.getByText("Not verified").waitFor({ timeout: 30_000 });
    await screenshot(page, "encryption-verify-with-key-wrong", { fullPage: false });
    expect(await withKey.innerText()).toMatch(/key/i);

    await withKey.getByTestId("verify-key").fill(identity);
    await withKey.getByTestId("verify-key-submit").click();
    await withKey.waitFor({ state: "detached", timeout: 60_000 });
    await expect.poll(() => row.getByTestId("backup-verification").innerText(), { timeout: 30_000 }).toMatch(/Verified/);
    expect(await row.getByTestId("verify-with-key").count()).toBe(0);
  });

  test("a restore without the key is refused; with the private key it puts the files back", async () => {
    const notes = path.join(e2e().storagePath, "documents/notes.txt");
    const before = fs.readFileSync(notes, "utf8");
    fs.writeFileSync(notes, "Changed after the encrypted backup.\n");
    const row = rowNamed(filename);
    await row.getByRole("button", { name: `Restore ${filename}` }).click();
    const restore = dialog(`Restore ${filename}?`);
    await restore.waitFor();
    await restore.getByLabel("Type RESTORE to confirm").fill("RESTORE");
    await restore.getByRole("button", { name: "Restore backup" }).click();
    await restore.getByText(/encrypted/).first().waitFor();
    expect(fs.readFileSync(notes, "utf8")).toBe("Changed after the encrypted backup.\n");

    await restore.getByTestId("restore-key").fill(identity);
    await restore.getByRole("button", { name: "Restore backup" }).click();
    const done = dialog("Backup restored");
    await done.getByTestId("restore-done").waitFor({ timeout: 90_000 });
    expect(fs.readFileSync(notes, "utf8")).toBe(before);
    await done.getByRole("button", { name: "Reload now" }).click();
    await page.waitForLoadState("load");
  });
});
