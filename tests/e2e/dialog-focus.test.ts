/**
 * Focus after a dialog: back on the control that opened it, however the dialog closed
 * (Escape, Cancel, after success); when that control went away with its row, on the same
 * control of the next row. The backups this file makes are deleted again before it ends.
 */
import fs from "node:fs";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { e2e, launchBrowser, newContext, signIn } from "./support/browser";
import { ADMIN_PASSWORD } from "./support/context";
import { deleteBackupRows, insertBackups } from "./support/db";

let browser: Browser;
let page: Page;
const made: Array<{ id: number; filename: string }> = [];
let seeded: number[] = [];

/** The focused element, described by its accessible name (aria-label or text). */
function focused(p: Page = page): Promise<string> {
  return p.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return "<body>";
    return (el.getAttribute("aria-label") ?? el.textContent ?? el.tagName).trim();
  });
}

/** Create is unavailable while another operation runs (the previous test's backup may still be finishing). */
async function createAvailable(): Promise<void> {
  const opener = page.getByRole("button", { name: "Create backup" }).first();
  await expect.poll(() => opener.getAttribute("aria-disabled"), { timeout: 30_000 }).toBeNull();
}

async function createDatabaseBackup(): Promise<{ id: number; filename: string }> {
  const opener = page.getByRole("button", { name: "Create backup" }).first();
  await createAvailable();
  await opener.focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "Create backup" });
  await dialog.waitFor();
  await dialog.getByRole("radio", { name: /^Database only/ }).check();
  await dialog.getByRole("button", { name: "Create backup" }).click();
  await dialog.waitFor({ state: "hidden" });
  const row = page.locator('tbody tr[data-testid^="backup-row-"]').first();
  const id = Number((await row.getAttribute("data-testid"))?.replace("backup-row-", ""));
  await page.getByTestId(`backup-row-${id}`).and(page.locator('[data-status="completed"]')).waitFor({ timeout: 60_000 });
  const filename = (await page.getByTestId(`backup-row-${id}`).locator("td").first().locator(".mono").first().innerText()).trim();
  made.push({ id, filename });
  return { id, filename };
}

beforeAll(async () => {
  browser = await launchBrowser();
  const context = await newContext(browser);
  page = await context.newPage();
  await signIn(page, "admin", ADMIN_PASSWORD);
});

afterAll(async () => {
  // Whatever a failed test left: its rows and archives.
  deleteBackupRows([...made.map((m) => m.id), ...seeded]);
  for (const m of made) fs.rmSync(path.join(e2e().backupPath, m.filename), { force: true });
  await browser?.close();
});

test("after a backup is created, focus is back on the Create backup button", async () => {
  await page.goto("/settings/backup");
  await page.getByRole("heading", { name: "Backup & restore" }).waitFor();
  await createDatabaseBackup();
  await expect.poll(() => focused()).toBe("Create backup");
});

test("Escape and Cancel return focus to the button that opened the dialog", async () => {
  const upload = page.getByRole("button", { name: "Upload backup" }).first();
  await upload.focus();
  await page.keyboard.press("Enter");
  await page.getByRole("dialog", { name: "Upload backup" }).waitFor();
  expect(await focused()).not.toBe("Upload backup");
  await page.keyboard.press("Escape");
  await page.getByRole("dialog", { name: "Upload backup" }).waitFor({ state: "hidden" });
  await expect.poll(() => focused()).toBe("Upload backup");

  const { filename } = made[0]!;
  await page.getByRole("button", { name: `Restore ${filename}` }).focus();
  await page.keyboard.press("Enter");
  const restore = page.getByRole("dialog", { name: `Restore ${filename}?` });
  await restore.waitFor();
  await restore.getByRole("button", { name: "Cancel" }).click();
  await restore.waitFor({ state: "hidden" });
  await expect.poll(() => focused()).toBe(`Restore ${filename}`);

  await createAvailable();
  await page.getByRole("button", { name: "Create backup" }).first().focus();
  await page.keyboard.press("Enter");
  const create = page.getByRole("dialog", { name: "Create backup" });
  await create.waitFor();
  await create.getByRole("button", { name: "Cancel" }).click();
  await expect.poll(() => focused()).toBe("Create backup");
});

test("after a delete, focus moves to the same button of the next row", async () => {
  // Two rows below the one to delete, so there is a next row (catalog rows, no archives).
  seeded = insertBackups([
    { filename: "backup_focus_older_1.tar.gz", includesFiles: false, createdAt: Date.now() - 3 * 86400_000 },
    { filename: "backup_focus_older_2.tar.gz", includesFiles: false, createdAt: Date.now() - 4 * 86400_000 },
  ]);
  await page.reload();
  const { id, filename } = made[0]!;
  const rows = page.locator('tbody tr[data-testid^="backup-row-"]');
  const ids = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-testid")));
  const nextTestId = ids[ids.indexOf(`backup-row-${id}`) + 1]!;
  const nextName = (await page.getByTestId(nextTestId).locator("td").first().locator(".mono").first().innerText()).trim();

  await page.getByRole("button", { name: `Delete ${filename}` }).focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: `Delete ${filename}?` });
  await dialog.waitFor();
  // A destructive question starts on Cancel.
  expect(await focused()).toBe("Cancel");
  await dialog.getByRole("button", { name: "Delete backup" }).click();
  await page.getByTestId(`backup-row-${id}`).waitFor({ state: "detached" });
  made.shift();
  await expect.poll(() => focused()).toBe(`Delete ${nextName}`);
});

test("the token revoke dialog gives focus back to its Revoke button", async () => {
  await page.goto("/admin/tokens");
  await page.getByLabel("Token name").fill("focus-check");
  await page.getByRole("button", { name: /^Create token/ }).click();
  await page.getByTestId("new-token").waitFor();
  await page.getByRole("button", { name: "I have copied it" }).click();
  const revoke = page.getByRole("button", { name: "Revoke token focus-check" }).first();
  await revoke.focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: /^Revoke token/ });
  await dialog.waitFor();
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  await expect.poll(() => focused()).toBe("Revoke token focus-check");
  // Revoked: the button is gone with the row's actions; focus is not dropped on <body>.
  await revoke.focus();
  await page.keyboard.press("Enter");
  await dialog.getByRole("button", { name: "Revoke token" }).click();
  await dialog.waitFor({ state: "hidden" });
  await expect.poll(() => focused()).not.toBe("<body>");
});

test("leaves the seeded rows out again", () => {
  deleteBackupRows(seeded);
  seeded = [];
  expect(made).toHaveLength(0);
});
