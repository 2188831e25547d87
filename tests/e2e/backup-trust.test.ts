/**
 * The Backup tab tells the truth: work started elsewhere (the command line) shows up in an
 * open tab within seconds and Create waits for it; retention lists what it would remove
 * before anything is removed, and a protected backup survives; a backup whose check failed
 * looks damaged; when the server cannot be reached a banner says so and goes by itself.
 * Runs after backup-tab.test.ts (files run in name order) on the same server.
 */
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ADMIN_PASSWORD } from "./support/context";
import { e2e, launchBrowser, newContext, screenshot, signIn } from "./support/browser";
import { e2eCliEnv, REPO_ROOT } from "./support/cli";

let browser: Browser;
let page: Page;
const pageProblems: string[] = [];

const rows = () => page.locator('tbody tr[data-testid^="backup-row-"]');
const rowNamed = (filename: string) => rows().filter({ has: page.locator('td[data-label="Backup"]', { hasText: filename }) });
const toast = (text: string | RegExp) => page.locator(".toast").filter({ hasText: text });

async function dismissToasts(): Promise<void> {
  const dismiss = page.getByRole("button", { name: "Dismiss notification" });
  while ((await dismiss.count()) > 0) await dismiss.first().click();
}

/** The CLI against the e2e server's folders, as an admin would run it on the NAS. */
function cli(args: string[]): { done: Promise<{ code: number; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, ["--import", "tsx", "server/cli.ts", ...args], {
    cwd: REPO_ROOT,
    env: e2eCliEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
  child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  return { done: new Promise((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }))) };
}

async function cliBackup(type: string): Promise<string> {
  const run = await cli(["backup", "create", "--type", type, "--json"]).done;
  expect(run.code, run.stderr).toBe(0);
  return (JSON.parse(run.stdout) as { filename: string }).filename;
}

beforeAll(async () => {
  browser = await launchBrowser();
  const context = await newContext(browser);
  page = await context.newPage();
  page.on("pageerror", (err) => pageProblems.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) pageProblems.push(`console: ${msg.text()}`);
  });
  await signIn(page, "admin", ADMIN_PASSWORD);
  await page.goto("/settings/backup");
  await page.getByTestId("summary-running").waitFor();
});

afterAll(async () => {
  await browser?.close();
  // Leave the rules as the environment sets them, for whatever runs next.
  const db = new Database(e2e().databasePath);
  try {
    db.pragma("busy_timeout = 5000");
    db.prepare("DELETE FROM settings WHERE key LIKE 'backup.%'").run();
    db.prepare("UPDATE backups SET protected = 0").run();
  } finally {
    db.close();
  }
});

describe("the Backup tab follows the truth", () => {
  test("a backup started from the command line shows up in the open tab within seconds, and Create waits for it", async () => {
    const big = path.join(e2e().storagePath, "trust/big.bin");
    fs.mkdirSync(path.dirname(big), { recursive: true });
    // Base64 text, so the backup is deflated (about 6 s) and still runs when the tab looks:
    // random bytes are only stored, at 450 MB/s, and were done before the first poll.
    fs.writeFileSync(big, crypto.randomBytes(48 * 1024 * 1024).toString("base64"));
    for (let i = 1; i < 8; i++) fs.copyFileSync(big, `${big}.${i}`);
    try {
      const run = cli(["backup", "create", "--type", "full", "--json"]);
      const started = Date.now();
      await expect.poll(() => page.getByTestId("summary-running").innerText(), { timeout: 8_000, interval: 100 }).toContain("Backup");
      const seenAfter = Date.now() - started;
      // The CLI process itself needs a moment to start (tsx); the tab follows within one poll of the lock.
      expect(seenAfter).toBeLessThan(8_000);
      const create = page.getByRole("button", { name: "Create backup" }).first();
      expect(await create.getAttribute("aria-disabled")).toBe("true");
      expect(await page.getByTestId("create-busy-reason").innerText()).toMatch(/A backup is running .* when it has finished/);
      await expect.poll(() => rows().first().getAttribute("data-status"), { timeout: 8_000 }).toBe("in_progress");
      await screenshot(page, "20-cli-backup-in-open-tab", { fullPage: false });

      const result = await run.done;
      expect(result.code, result.stderr).toBe(0);
      const { filename } = JSON.parse(result.stdout) as { filename: string };
      // Finished elsewhere: the row turns completed and Create comes back, without a reload.
      await expect.poll(() => rowNamed(filename).getAttribute("data-status"), { timeout: 10_000 }).toBe("completed");
      await expect.poll(() => create.getAttribute("aria-disabled"), { timeout: 10_000 }).toBeNull();
    } finally {
      fs.rmSync(path.dirname(big), { recursive: true, force: true });
    }
  });

  test("retention lists what it would remove before saving, removes exactly that, and keeps a protected backup", async () => {
    const oldest = await cliBackup("database_only");
    await cliBackup("database_only");
    const newest = await cliBackup("database_only");
    await expect.poll(() => rowNamed(newest).count(), { timeout: 10_000 }).toBe(1);

    await rowNamed(oldest).getByRole("button", { name: `Protect ${oldest} from retention` }).click();
    await toast("Backup protected").waitFor();
    await rowNamed(oldest).locator(".badge", { hasText: "Protected" }).waitFor();

    await page.getByLabel("Keep at most (backups)").fill("1");
    await page.getByRole("button", { name: "Review changes" }).click();
    const preview = page.getByTestId("retention-preview");
    await preview.waitFor();
    const listed = await preview.locator("li").allInnerTexts();
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.some((t) => t.includes(oldest))).toBe(false);
    expect(listed.some((t) => t.includes(newest))).toBe(false);
    // Nothing is gone yet.
    const before = await rows().count();
    expect(before).toBeGreaterThan(1);
    await screenshot(page, "21-retention-preview", { fullPage: false });

    await page.getByTestId("retention-confirm").click();
    await toast("Retention settings saved").waitFor();
    await expect.poll(async () => (await rowNamed(oldest).count()) + (await rowNamed(newest).count()), { timeout: 10_000 }).toBe(2);
    const removedName = /backup_\S+?\.tar\.gz/.exec(listed[0]!)?.[0];
    await expect.poll(() => rowNamed(removedName!).count(), { timeout: 10_000 }).toBe(0);
    expect(fs.existsSync(path.join(e2e().backupPath, oldest))).toBe(true);

    // Settings → General says where each value in effect comes from, the saved one included.
    await page.goto("/settings/general");
    const keepAtMost = page.locator("dt", { hasText: "Keep at most" }).locator("xpath=..");
    expect(await keepAtMost.innerText()).toMatch(/1 backup\s*Saved in Settings → Backup \(overrides NAS_BACKUP_MAX_COUNT\)/);
    expect(await page.locator("dt", { hasText: "Keep backups for" }).locator("xpath=..").innerText()).toMatch(/Saved in Settings → Backup/);
    expect(await page.getByText("These values come from the server's environment").count()).toBe(0);
    await page.goto("/settings/backup");
    await page.getByTestId("summary-running").waitFor();
  });

  test("a backup whose check fails is marked damaged, and the summary counts it", async () => {
    const name = await cliBackup("full");
    const file = path.join(e2e().backupPath, name);
    const bytes = fs.readFileSync(file);
    // Flip bytes in the middle of the archive: gzip's CRC or the manifest's hashes catch it.
    for (let i = 0; i < 64; i++) bytes[Math.floor(bytes.length / 2) + i] ^= 0xff;
    fs.writeFileSync(file, bytes);
    const row = rowNamed(name);
    await row.waitFor();
    await row.getByRole("button", { name: `Verify ${name}` }).click();
    await toast("Verification failed").waitFor({ timeout: 30_000 });
    await row.locator(".badge", { hasText: "Damaged" }).waitFor();
    expect(await row.getAttribute("data-damaged")).toBe("true");
    await expect.poll(() => page.getByTestId("summary-count").locator("xpath=..").innerText()).toMatch(/1 damaged/);
    await screenshot(page, "22-damaged-backup", { fullPage: false });
  });

  test("a database-only restore first saves just the database, says so before RESTORE, and offers Undo when done", async () => {
    const name = await cliBackup("database_only");
    const row = rowNamed(name);
    await row.waitFor({ timeout: 10_000 });
    await dismissToasts();
    await row.getByRole("button", { name: `Restore ${name}` }).click();
    const dialog = page.getByRole("dialog", { name: /^Restore / });
    const plan = dialog.getByTestId("restore-plan");
    await plan.waitFor();
    expect(await plan.innerText()).toMatch(/backs up the current database \(about [\d.,]+ (B|KiB|MiB)/);
    expect(await plan.innerText()).not.toMatch(/files/);
    expect(await dialog.getByTestId("restore-space").innerText()).toMatch(/Free space checked: .* needed, .* free/);
    await dialog.getByLabel(/Type RESTORE to confirm/).fill("RESTORE");
    await dialog.getByRole("button", { name: "Restore backup" }).click();
    // The dialog's title becomes "Backup restored": follow it by that name from here.
    const finished = page.getByRole("dialog", { name: "Backup restored" });
    await finished.getByTestId("restore-done").waitFor({ timeout: 60_000 });
    // Focus lands on the done screen's primary button; Undo is offered beside it.
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent?.trim())).toBe("Reload now");
    expect(await finished.getByTestId("restore-undo").isVisible()).toBe(true);
    await expect.poll(() => finished.getByTestId("restore-done").innerText()).toMatch(/safety backup backup_\S+ holds/);
    await screenshot(page, "24-restore-done-undo", { fullPage: false });

    await finished.getByTestId("restore-undo").click();
    const undo = page.getByRole("dialog", { name: /^Restore backup_/ });
    await undo.getByTestId("restore-plan").waitFor();
    await undo.getByRole("button", { name: "Cancel" }).click();
    // The safety backup is in the list: a database-only backup, marked Safety, and small.
    const safety = rows().filter({ has: page.locator(".badge", { hasText: "Safety" }) }).first();
    await safety.waitFor();
    expect(await safety.locator('td[data-label="Type"]').innerText()).toContain("Database only");
  });

  test("a banner says when the server cannot be reached, and goes away by itself when it answers again", async () => {
    await page.route("**/api/trpc/**", (route) => route.abort("connectionrefused"));
    const banner = page.getByTestId("offline-banner");
    await banner.waitFor({ timeout: 20_000 });
    expect(await banner.innerText()).toMatch(/cannot be reached/);
    await screenshot(page, "23-offline-banner", { fullPage: false });
    await page.unroute("**/api/trpc/**");
    await banner.waitFor({ state: "detached", timeout: 20_000 });
  });

  test("no script errors or React warnings happened in the page", () => {
    expect(pageProblems).toEqual([]);
  });
});
