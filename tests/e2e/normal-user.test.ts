/**
 * A normal user sees when their files were last backed up (the newest completed backup
 * that includes files) on Home and in Settings → General, or that there is none yet, and
 * no environment-variable names or pointers to admin-only tabs. The catalog is changed
 * only for the duration of each test (hidden, with a few seeded rows) and put back.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { launchBrowser, newContext, screenshot, signIn } from "./support/browser";
import { BOB_PASSWORD } from "./support/context";
import { deleteBackupRows, insertBackups, withBackupsHidden } from "./support/db";

let browser: Browser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  browser = await launchBrowser();
  context = await newContext(browser, { timezoneId: "Europe/Berlin", locale: "en-GB" });
  page = await context.newPage();
  await signIn(page, "bob", BOB_PASSWORD);
});

afterAll(async () => {
  await browser?.close();
});

async function lastBackupLine(url: string): Promise<string> {
  await page.goto(url);
  const line = page.getByTestId("last-files-backup");
  await line.waitFor();
  await page.waitForLoadState("networkidle");
  return (await line.innerText()).trim();
}

async function expectNoAdminPointers(): Promise<void> {
  const text = await page.locator("main").innerText();
  expect(text).not.toMatch(/NAS_[A-Z_]+/);
  expect(text).not.toContain("Settings → Backup");
  expect(await page.locator('main a[href^="/settings/backup"], main a[href^="/admin"]').count()).toBe(0);
}

test("with no backup of the files, the user is told to ask an administrator", async () => {
  await withBackupsHidden(async () => {
    const seeded = insertBackups([{ filename: "backup_db_only_for_bob.tar.gz", includesFiles: false }]);
    try {
      for (const url of ["/", "/settings/general"]) {
        expect(await lastBackupLine(url)).toBe("No backup of the files yet: ask an administrator.");
        await expectNoAdminPointers();
      }
    } finally {
      deleteBackupRows(seeded);
    }
  });
});

test("the user sees when the files were last backed up, relative and in local time", async () => {
  // Two hours ago is the newest completed backup with files; newer ones without files or failed do not count.
  const completedAt = Date.now() - 2 * 3600_000;
  await withBackupsHidden(async () => {
    insertBackups([
      { filename: "backup_files_for_bob.tar.gz", createdAt: completedAt - 60_000, completedAt },
      { filename: "backup_db_newer_for_bob.tar.gz", includesFiles: false, createdAt: Date.now() - 60_000 },
      { filename: "backup_failed_for_bob.tar.gz", status: "failed", createdAt: Date.now() - 30_000 },
    ]);
    const local = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "Europe/Berlin" }).format(new Date(completedAt));
    for (const url of ["/", "/settings/general"]) {
      expect(await lastBackupLine(url)).toBe(`Your files were last backed up 2 hours ago (${local}).`);
      await expectNoAdminPointers();
    }
    await screenshot(page, "15-user-last-backup", { fullPage: false });
  });
});
