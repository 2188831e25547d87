/**
 * The admin's backup workflow in the Backup tab, in a real browser against `next start`:
 * the tests run in order on one signed-in page, each building on the state the previous
 * one left (as an admin would work through the tab). Screenshots of the main states go
 * to test-output/e2e/.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ADMIN_PASSWORD, SEED_FILES } from "./support/context";
import { e2e, launchBrowser, newContext, screenshot, sha256File, signIn } from "./support/browser";

let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Script errors and React warnings (hydration mismatches…) seen in the page; a clean run has none. */
const pageProblems: string[] = [];

const BIG_FILE = "big/random.bin";

const rows = () => page.locator('tbody tr[data-testid^="backup-row-"]');
const rowById = (id: number) => page.getByTestId(`backup-row-${id}`);
const dialog = (name: string | RegExp) => page.getByRole("dialog", { name });
const toast = (text: string | RegExp) => page.locator(".toast").filter({ hasText: text });

async function dismissToasts(): Promise<void> {
  const dismiss = page.getByRole("button", { name: "Dismiss notification" });
  while ((await dismiss.count()) > 0) await dismiss.first().click();
}

async function idOf(row: Locator): Promise<number> {
  const testId = await row.getAttribute("data-testid");
  return Number(testId?.replace("backup-row-", ""));
}

async function filenameOf(row: Locator): Promise<string> {
  return (await row.locator("td").first().locator(".mono").first().innerText()).trim();
}

/** Opens the create dialog, picks the type and starts the backup; returns the new row's id. */
async function startBackup(type: "Full" | "Incremental" | "Database only" | "Files only", options: { screenshotAs?: string } = {}): Promise<number> {
  const before = new Set(await Promise.all((await rows().all()).map(idOf)));
  await page.getByRole("button", { name: "Create backup" }).first().click();
  const create = dialog("Create backup");
  await create.waitFor();
  await create.getByRole("radio", { name: new RegExp(`^${type}`) }).check();
  if (options.screenshotAs) await screenshot(page, options.screenshotAs, { fullPage: false });
  await create.getByRole("button", { name: "Create backup" }).click();
  await create.waitFor({ state: "hidden" });
  // The new row is in the list at once, before any reload or refetch.
  const first = rows().first();
  await expect.poll(async () => before.has(await idOf(first))).toBe(false);
  return idOf(first);
}

async function waitForStatus(id: number, status: "completed" | "failed", timeout = 60_000): Promise<void> {
  await rowById(id).and(page.locator(`[data-status="${status}"]`)).waitFor({ timeout });
}

/** Random bytes, or (text) random base64: compressible, so writing it into a backup takes time. */
function writeRandomFile(file: string, bytes: number, options: { text?: boolean } = {}): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, "w");
  try {
    const chunk = 8 * 1024 * 1024;
    for (let written = 0; written < bytes; written += chunk) {
      const size = Math.min(chunk, bytes - written);
      fs.writeSync(fd, options.text ? Buffer.from(crypto.randomBytes(Math.ceil((size * 3) / 4)).toString("base64").slice(0, size)) : crypto.randomBytes(size));
    }
  } finally {
    fs.closeSync(fd);
  }
}

beforeAll(async () => {
  browser = await launchBrowser();
  context = await newContext(browser);
  page = await context.newPage();
  page.on("pageerror", (err) => pageProblems.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    // A refused request (409, 422) is logged by the browser itself; that is the server answering, not a bug.
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) pageProblems.push(`console: ${msg.text()}`);
  });
  await signIn(page, "admin", ADMIN_PASSWORD);
});

afterAll(async () => {
  await browser?.close();
});

describe("Settings → Backup", () => {
  test("an empty list tells the admin to create the first backup", async () => {
    await page.goto("/settings/backup");
    await page.getByRole("heading", { name: "No backups yet" }).waitFor();
    expect(await page.getByText("Create your first backup now").isVisible()).toBe(true);
    expect(await page.getByTestId("summary-count").innerText()).toBe("0");
    expect(await page.getByTestId("summary-running").innerText()).toBe("Nothing");
    // The free space comes from the overview (never "–" once loaded).
    expect(await page.getByTestId("summary-free").innerText()).toMatch(/\d.*(B|KiB|MiB|GiB|TiB)$/);
    await screenshot(page, "01-empty-list");
  });

  test("a running backup shows live progress and can be cancelled", async () => {
    const big = path.join(e2e().storagePath, BIG_FILE);
    // Still running when Cancel is clicked, on a fast machine too: random bytes are only
    // stored (387 MiB took 0.9 s), base64 text is deflated, about 40 MB/s a core.
    writeRandomFile(big, 512 * 1024 * 1024, { text: true });
    try {
      const id = await startBackup("Full", { screenshotAs: "02-create-dialog" });
      const row = rowById(id);
      await row.getByTestId("backup-progress").waitFor();
      // The bar moves without a reload: wait for a second, higher reading.
      const percent = async () => Number((await row.getByRole("progressbar").getAttribute("aria-valuenow")) ?? 0);
      await expect.poll(percent, { timeout: 30_000 }).toBeGreaterThan(0);
      expect(await row.getByTestId("backup-progress").innerText()).toMatch(/of \d+ files · .* of .* · /);
      await expect.poll(() => page.getByTestId("summary-running").innerText()).toContain("Backup");
      await screenshot(page, "03-backup-in-progress", { fullPage: false });

      await row.getByRole("button", { name: /^Cancel backup/ }).click();
      await waitForStatus(id, "failed");
      expect(await row.getByTestId("backup-error").innerText()).toBe("Cancelled by admin.");
      await toast("Backup cancelled").waitFor();
      await expect.poll(() => page.getByTestId("summary-running").innerText()).toBe("Nothing");
      // Nothing half-written stays in the backup folder.
      expect(fs.readdirSync(e2e().backupPath).filter((f) => f.endsWith(".tar.gz"))).toEqual([]);
    } finally {
      fs.rmSync(path.dirname(big), { recursive: true, force: true });
    }
  });

  test("a full backup completes in the list without a reload", async () => {
    const id = await startBackup("Full");
    await waitForStatus(id, "completed");
    await toast("Backup completed").waitFor();
    const row = rowById(id);
    expect(await row.locator('td[data-label="Type"]').innerText()).toContain("Full");
    expect(await row.locator('td[data-label="Created"]').innerText()).toContain("by admin");
    expect(await row.locator('td[data-label="Size"]').innerText()).toMatch(/\d+(\.\d+)? (B|KiB|MiB)/);
    expect(await row.getByTestId("backup-verification").innerText()).toBe("Not verified");
    expect(fs.existsSync(path.join(e2e().backupPath, await filenameOf(row)))).toBe(true);
  });

  test("downloading a backup gives the archive's exact bytes", async () => {
    const row = rows().and(page.locator('[data-status="completed"]')).first();
    const filename = await filenameOf(row);
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      row.getByRole("link", { name: `Download ${filename}` }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(filename);
    const saved = await download.path();
    expect(sha256File(saved)).toBe(sha256File(path.join(e2e().backupPath, filename)));
  });

  test("verifying a backup shows the result on its row", async () => {
    const row = rows().and(page.locator('[data-status="completed"]')).first();
    const filename = await filenameOf(row);
    await row.getByRole("button", { name: `Verify ${filename}` }).click();
    await toast("Backup verified").waitFor();
    await expect.poll(() => row.getByTestId("backup-verification").innerText()).toMatch(/^Verified/);
  });

  test("a restore needs RESTORE typed, then puts the original files back", async () => {
    const notes = path.join(e2e().storagePath, "documents/notes.txt");
    const added = path.join(e2e().storagePath, "documents/added-later.txt");
    fs.writeFileSync(notes, "Changed after the backup.\n");
    fs.writeFileSync(added, "This file did not exist when the backup was taken.\n");

    const row = rows().and(page.locator('[data-status="completed"]')).first();
    const id = await idOf(row);
    const filename = await filenameOf(row);
    await row.getByRole("button", { name: `Restore ${filename}` }).click();
    const restore = dialog(`Restore ${filename}?`);
    await restore.waitFor();

    // What will be overwritten, and only the parts this backup holds can be ticked.
    const text = await restore.innerText();
    expect(text).toContain("All users and their passwords, API tokens and settings");
    expect(text).toContain("Every file in storage");
    expect(text).toContain("safety backup");
    expect(await restore.getByRole("checkbox", { name: /Database/ }).isChecked()).toBe(true);
    expect(await restore.getByRole("checkbox", { name: /Files/ }).isChecked()).toBe(true);
    expect(await restore.getByRole("checkbox", { name: /Config folder/ }).isDisabled()).toBe(true);

    const confirm = restore.getByLabel("Type RESTORE to confirm");
    const go = restore.getByRole("button", { name: "Restore backup" });
    expect(await go.isDisabled()).toBe(true);
    await confirm.fill("restore");
    expect(await go.isDisabled()).toBe(true);
    await confirm.fill("RESTORE");
    expect(await go.isEnabled()).toBe(true);
    await screenshot(page, "05-restore-dialog-confirmed", { fullPage: false });

    await go.click();
    const done = dialog("Backup restored");
    await done.getByTestId("restore-done").waitFor({ timeout: 90_000 });
    await screenshot(page, "06-restore-success", { fullPage: false });

    expect(fs.readFileSync(notes, "utf8")).toBe(SEED_FILES["documents/notes.txt"]);
    expect(fs.existsSync(added)).toBe(false);

    await done.getByRole("button", { name: "Reload now" }).click();
    await page.waitForLoadState("load");
    // Still signed in after the reload, and the safety backup taken first is in the list.
    const safety = rows().filter({ has: page.locator(".badge", { hasText: "Safety" }) });
    await safety.first().waitFor();
    expect(await safety.first().getAttribute("data-status")).toBe("completed");
    expect(await rowById(id).isVisible()).toBe(true);
  });

  test("an archive uploaded from this computer appears in the list, with upload progress", async () => {
    const source = rows().and(page.locator('[data-status="completed"]')).last();
    const archive = path.join(e2e().backupPath, await filenameOf(source));
    const copy = path.join(e2e().root, "offsite copy.tar.gz");
    fs.copyFileSync(archive, copy);
    const size = fs.statSync(copy).size;
    const before = await rows().count();

    await page.getByRole("button", { name: "Upload backup" }).first().click();
    const upload = dialog("Upload backup");
    await upload.getByTestId("upload-drop-zone").waitFor();

    // Throttle the upload (about 3 s) so its progress can be seen and photographed.
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: Math.max(16 * 1024, Math.floor(size / 3)),
    });
    try {
      await upload.locator('input[type="file"]').setInputFiles(copy);
      const progress = upload.getByTestId("upload-progress");
      await progress.waitFor();
      // Percent and bytes move while the body goes up.
      await expect.poll(() => progress.innerText(), { timeout: 15_000 }).toMatch(/offsite copy\.tar\.gz\s+[1-9]\d*%\s+.* of .* uploaded/);
      await screenshot(page, "07-upload-progress", { fullPage: false });
    } finally {
      await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      await cdp.detach();
    }
    await upload.getByTestId("upload-done").waitFor({ timeout: 30_000 });
    expect(await upload.getByTestId("upload-done").innerText()).toContain("offsite copy.tar.gz");
    await screenshot(page, "08-upload-done", { fullPage: false });
    await upload.getByRole("button", { name: "Done" }).click();

    await expect.poll(() => rows().count()).toBe(before + 1);
    // It keeps the time the archive was made (the list is by that), with the upload time beside it.
    const uploaded = rows().filter({ has: page.locator(".badge", { hasText: "Uploaded" }) }).first();
    expect(await uploaded.locator('td[data-label="Created"]').innerText()).toMatch(/uploaded/);
    expect(await uploaded.getAttribute("data-status")).toBe("completed");
    expect(await uploaded.getByTestId("backup-verification").innerText()).toMatch(/^Verified/);
  });

  test("a file that is not an archive is refused with the reason", async () => {
    const bogus = path.join(e2e().root, "not-a-backup.tar.gz");
    fs.writeFileSync(bogus, "this is plain text, not gzip");
    await page.getByRole("button", { name: "Upload backup" }).first().click();
    const upload = dialog("Upload backup");
    await upload.locator('input[type="file"]').setInputFiles(bogus);
    const error = upload.locator(".callout-danger");
    await error.waitFor({ timeout: 30_000 });
    // The server's own message (from its JSON error), not a generic one.
    expect(await error.innerText()).not.toMatch(/HTTP \d+/);
    expect((await error.innerText()).length).toBeGreaterThan(30);
    await upload.getByRole("button", { name: "Close" }).last().click();
    await upload.waitFor({ state: "hidden" });
  });

  test("deleting asks first, and the server's refusal for the base of an incremental is shown", async () => {
    const incremental = await startBackup("Incremental");
    await waitForStatus(incremental, "completed");
    const parentText = await rowById(incremental).locator('td[data-label="Type"]').innerText();
    // The row names its base by file name, never by an id.
    const parentName = /builds on (backup_\S+?\.tar\.gz)/.exec(parentText)?.[1];
    expect(parentName).toBeDefined();
    const parentId = await idOf(rows().filter({ has: page.locator('td[data-label="Backup"]', { hasText: parentName! }) }));
    expect(parentId).toBeGreaterThan(0);

    // The base cannot go while the incremental needs it.
    const base = rowById(parentId);
    await base.getByRole("button", { name: /^Delete / }).click();
    let confirm = page.getByRole("dialog", { name: /^Delete / });
    await confirm.getByRole("button", { name: "Delete backup" }).click();
    await confirm.locator(".callout-danger").waitFor();
    expect(await confirm.locator(".callout-danger").innerText()).toContain(
      `${parentName} is the base of the incremental backup ${await filenameOf(rowById(incremental))}`,
    );
    await confirm.getByRole("button", { name: "Cancel" }).click();
    expect(await base.isVisible()).toBe(true);

    // The incremental itself can.
    const filename = await filenameOf(rowById(incremental));
    await rowById(incremental).getByRole("button", { name: `Delete ${filename}` }).click();
    confirm = dialog(`Delete ${filename}?`);
    await confirm.getByRole("button", { name: "Delete backup" }).click();
    await toast("Backup deleted").waitFor();
    await rowById(incremental).waitFor({ state: "detached" });
    expect(fs.existsSync(path.join(e2e().backupPath, filename))).toBe(false);
    await dismissToasts();
    await screenshot(page, "04-list-with-backups");
  });

  test("retention settings save and then show they come from a saved setting", async () => {
    const maxCount = page.getByLabel("Keep at most (backups)");
    const days = page.getByLabel("Keep for (days)");
    expect(await page.getByTestId("retention-max_count-source").innerText()).toMatch(/50 backups ·\s*environment variable\s*NAS_BACKUP_MAX_COUNT/);
    expect(await page.getByTestId("retention-retention_days-source").innerText()).toMatch(/30 days ·\s*default/);

    await maxCount.fill("0");
    await page.getByRole("button", { name: "Review changes" }).click();
    await page.getByText("Keep at least 1 backup").waitFor();

    await maxCount.fill("40");
    await days.fill("90");
    await page.getByRole("button", { name: "Review changes" }).click();
    // Nothing to remove with these rules: the preview says so, then Save applies them.
    await page.getByText("No backup will be removed").waitFor();
    await page.getByTestId("retention-confirm").click();
    await toast("Retention settings saved").waitFor();
    await expect.poll(() => page.getByTestId("retention-max_count-source").innerText()).toMatch(/40 backups ·\s*saved setting/);
    expect(await page.getByTestId("retention-retention_days-source").innerText()).toMatch(/90 days ·\s*saved setting/);

    await page.reload();
    expect(await page.getByTestId("retention-max_count-source").innerText()).toMatch(/40 backups ·\s*saved setting/);
    expect(await maxCount.inputValue()).toBe("40");
  });

  test("the activity card lists backup actions, filtered by action and user", async () => {
    const table = page.getByTestId("backup-audit-table");
    await table.waitFor();
    const all = await table.innerText();
    for (const action of ["backup.create", "backup.restore", "backup.download", "backup.upload", "backup.verify", "backup.delete", "backup.cancel"]) {
      expect(all).toContain(action);
    }
    await page.getByLabel("Action", { exact: true }).selectOption("restore");
    await expect.poll(async () => (await table.locator("tbody tr").allInnerTexts()).every((t) => t.includes("backup.restore"))).toBe(true);
    expect(await table.innerText()).toMatch(/admin restored backup_\S+ \(database, files\)/);

    await page.getByLabel("Action", { exact: true }).selectOption("delete");
    // The refused delete is there with its error.
    await expect.poll(() => table.innerText()).toContain("is the base of the incremental backup");
    expect(await table.locator(".badge", { hasText: "Failed" }).count()).toBeGreaterThan(0);

    // More entries than one page: "Load more" fetches the next one (keyset cursor).
    const completed = rows().and(page.locator('[data-status="completed"]')).first();
    const id = await idOf(completed);
    for (let i = 0; i < 12; i++) expect((await page.request.get(`/api/backups/${id}/download`)).status()).toBe(200);
    await page.getByLabel("Action", { exact: true }).selectOption("");
    await page.getByRole("button", { name: "Refresh" }).click();
    await expect.poll(() => table.locator("tbody tr").count()).toBe(20);
    // The footer counts every backup entry of the audit log, the 12 downloads above included
    // (wait for it: the list refetches in the background as other work finishes).
    const db = new Database(e2e().databasePath, { readonly: true });
    const inLog = () => (db.prepare("SELECT count(*) AS n FROM audit_log WHERE action LIKE 'backup.%'").get() as { n: number }).n;
    const footer = page.getByText(/^Showing 20 of \d+$/);
    let total = 0;
    try {
      await expect
        .poll(async () => {
          total = Number(/of (\d+)/.exec(await footer.innerText())?.[1]);
          return total === inLog();
        }, { timeout: 15_000 })
        .toBe(true);
    } finally {
      db.close();
    }
    expect(total).toBeGreaterThan(20);
    await page.getByRole("button", { name: "Load more" }).click();
    await expect.poll(() => table.locator("tbody tr").count()).toBe(Math.min(total, 40));

    await page.getByLabel("User", { exact: true }).fill("nobody");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.getByRole("heading", { name: "No backup activity matches these filters" }).waitFor();
    await page.getByRole("button", { name: "Clear filters" }).click();
    await table.waitFor();
  });

  test("hundreds of backups load at once and are shown 25 at a time", async () => {
    // Old scheduled backups, written straight into the catalog (their archives do not matter here).
    const db = new Database(e2e().databasePath);
    try {
      db.pragma("busy_timeout = 5000");
      const insert = db.prepare(
        `INSERT INTO backups (filename, filepath, size_bytes, backup_type, status, origin, created_at, completed_at,
           creator_id, creator_name, includes_database, includes_files, includes_config)
         VALUES (?, ?, ?, 'full', 'completed', 'scheduled', ?, ?, NULL, 'system', 1, 1, 0)`,
      );
      const start = Date.now() - 20 * 24 * 3600 * 1000;
      db.transaction(() => {
        for (let i = 0; i < 300; i++) {
          const name = `backup_seeded_${String(i).padStart(3, "0")}.tar.gz`;
          insert.run(name, path.join(e2e().backupPath, name), 1024 * 1024 * (i + 1), start + i * 60_000, start + i * 60_000 + 5000);
        }
      })();
    } finally {
      db.close();
    }
    const started = Date.now();
    await page.reload();
    await rows().first().waitFor();
    expect(Date.now() - started).toBeLessThan(10_000);
    const total = Number(await page.getByTestId("summary-count").innerText());
    expect(total).toBeGreaterThanOrEqual(300);
    expect(await rows().count()).toBe(25);
    expect(await page.getByText(`Showing 25 of ${total}`).isVisible()).toBe(true);
    await page.getByRole("button", { name: "Show 25 more" }).click();
    expect(await rows().count()).toBe(50);
    expect(await page.locator(".badge", { hasText: "Scheduled" }).count()).toBeGreaterThan(0);
  });

  test("no script errors or React warnings happened in the page", () => {
    expect(pageProblems).toEqual([]);
  });

  test("the list reads well on a 390 px wide phone", async () => {
    const phone = await newContext(browser, { viewport: { width: 390, height: 844 }, storageState: await context.storageState() });
    try {
      const small = await phone.newPage();
      await small.goto("/settings/backup");
      const firstRow = small.locator('tbody tr[data-testid^="backup-row-"]').first();
      await firstRow.waitFor();
      // Nothing sticks out sideways.
      const overflow = await small.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await screenshot(small, "09-mobile-top", { fullPage: false });
      await small.getByRole("heading", { name: "Backups", exact: true }).evaluate((el) => el.scrollIntoView({ block: "start" }));
      await screenshot(small, "09-mobile-list", { fullPage: false });
      await small.getByRole("heading", { name: "Retention", exact: true }).evaluate((el) => el.scrollIntoView({ block: "start" }));
      await screenshot(small, "09-mobile-retention-activity", { fullPage: false });
      await small.getByRole("button", { name: "Create backup" }).first().click();
      await small.getByRole("dialog", { name: "Create backup" }).waitFor();
      await screenshot(small, "10-mobile-create-dialog", { fullPage: false });
    } finally {
      await phone.close();
    }
  });
});
