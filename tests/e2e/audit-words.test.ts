/**
 * The audit log reads like English: sentences instead of action codes, IPv4 addresses
 * without the "::ffff:" prefix, details as labelled fields (never JSON), a compact card
 * per entry on a phone, and Home's recent activity in the same words. The entries are
 * written straight into the log (it is append-only; they stay, as real entries would).
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { launchBrowser, newContext, screenshot, signIn } from "./support/browser";
import { ADMIN_PASSWORD } from "./support/context";
import { insertAuditEntries } from "./support/db";

const RETENTION_FILE = "backup_20261201_030000.tar.gz";
const RESTORED_FILE = "backup_20261202_040000.tar.gz";
const REFUSAL = "The file is not a gzip-compressed tar archive (.tar.gz).";

let browser: Browser;
let context: BrowserContext;
let page: Page;
let ids: number[] = [];

beforeAll(async () => {
  browser = await launchBrowser();
  context = await newContext(browser);
  page = await context.newPage();
  await signIn(page, "admin", ADMIN_PASSWORD);
  // Newest last, so the restore is the first entry on Home and in the log.
  const now = Date.now();
  ids = insertAuditEntries([
    {
      action: "backup.retention_delete",
      actorName: "system",
      resource: "backup:901",
      details: { filename: RETENTION_FILE, status: "completed", max_count: 10, retention_days: 30 },
      createdAt: now,
    },
    {
      action: "backup.upload",
      actorName: "admin",
      actorId: 1,
      ip: "::ffff:192.0.2.7",
      success: false,
      errorMessage: REFUSAL,
      details: { original_name: "holiday.tar.gz" },
      createdAt: now + 1,
    },
    {
      action: "backup.restore",
      actorName: "admin",
      actorId: 1,
      ip: "::ffff:192.0.2.7",
      userAgent: "Mozilla/5.0 (X11; Linux x86_64) Chromium",
      resource: "backup:902",
      details: { filename: RESTORED_FILE, parts: { database: true, files: true, config: false }, safety_backup_id: 903, chain: [902], foreign: false, size_bytes: 5 * 1024 * 1024 },
      createdAt: now + 2,
    },
    {
      action: "backup.cancel",
      actorName: "admin",
      actorId: 1,
      resource: "backup:904",
      success: false,
      errorMessage: "Cancelled by admin.",
      details: { filename: "backup_20261202_050000.tar.gz", backup_type: "full" },
      createdAt: now - 1,
    },
  ]);
});

afterAll(async () => {
  await browser?.close();
});

const entryRow = (p: Page, id: number) => p.getByTestId(`audit-entry-${id}`);

test("the Audit log says what happened in sentences", async () => {
  await page.goto("/admin/audit");
  const [retention, upload, restore] = ids.map((id) => entryRow(page, id));
  await restore!.waitFor();
  expect(await retention!.getByTestId("audit-sentence").innerText()).toBe(`Retention removed ${RETENTION_FILE}`);
  expect(await restore!.getByTestId("audit-sentence").innerText()).toBe(`admin restored ${RESTORED_FILE} (database, files)`);
  expect(await upload!.getByTestId("audit-sentence").innerText()).toBe(`Upload refused: ${REFUSAL}`);
  expect(await upload!.locator('td[data-label="Result"]').innerText()).toBe("Failed");
  // A cancelled backup is not reported as a failure.
  const cancel = entryRow(page, ids[3]!);
  expect(await cancel.getByTestId("audit-sentence").innerText()).toBe("admin cancelled backup_20261202_050000.tar.gz");
  expect(await cancel.locator('td[data-label="Result"]').innerText()).toBe("Cancelled");
});

test("addresses are plain IPv4 and details are labelled fields, not JSON", async () => {
  const restore = entryRow(page, ids[2]!);
  expect((await restore.locator('td[data-label="IP address"]').innerText()).trim()).toBe("192.0.2.7");
  expect(await page.locator("table").innerText()).not.toContain("::ffff:");

  await restore.getByText("Details", { exact: true }).click();
  const fields = restore.locator("dl.audit-fields");
  await fields.waitFor();
  const pairs = await fields.locator(":scope > div").evaluateAll((divs) =>
    Object.fromEntries(divs.map((d) => [d.querySelector("dt")!.textContent, d.querySelector("dd")!.textContent])),
  );
  expect(pairs).toMatchObject({
    Archive: RESTORED_FILE,
    Parts: "database, files",
    "Safety backup": "903",
    "Archives read": "902",
    "Made elsewhere": "No",
    Size: "5 MiB",
    Concerns: "backup 902",
    "Browser or client": "Mozilla/5.0 (X11; Linux x86_64) Chromium",
  });
  const text = await restore.innerText();
  expect(text).not.toMatch(/[{}]|"filename"|safety_backup_id/);
  await screenshot(page, "13-audit-log-sentences", { fullPage: false });
});

test("on a phone each entry is a compact card and nothing sticks out", async () => {
  const phone = await newContext(browser, { viewport: { width: 390, height: 844 }, storageState: await context.storageState() });
  try {
    const small = await phone.newPage();
    await small.goto("/admin/audit");
    const restore = entryRow(small, ids[2]!);
    await restore.waitFor();
    expect(await small.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
    // Sentence on top across the card; who, where and when below it, in one short block.
    const sentence = await restore.getByTestId("audit-sentence").boundingBox();
    const who = await restore.locator('td[data-label="User"]').boundingBox();
    const ip = await restore.locator('td[data-label="IP address"]').boundingBox();
    const card = await restore.boundingBox();
    expect(who!.y).toBeGreaterThan(sentence!.y);
    expect(Math.abs(ip!.y - who!.y)).toBeLessThan(8);
    await screenshot(small, "14-audit-log-phone", { fullPage: false });
    // Below the sentence: the action code, and who, where and when in at most two short lines.
    expect(card!.height - sentence!.height).toBeLessThanOrEqual(100);
    // No column-name labels in the compact card.
    const label = await restore.locator('td[data-label="User"]').evaluate((td) => getComputedStyle(td, "::before").display);
    expect(label).toBe("none");
  } finally {
    await phone.close();
  }
});

test("Home's recent activity uses the same words", async () => {
  await page.goto("/");
  const recent = page.getByTestId("recent-activity");
  await recent.waitFor();
  const text = await recent.innerText();
  expect(text).toContain(`admin restored ${RESTORED_FILE} (database, files)`);
  expect(text).toContain(`Upload refused: ${REFUSAL}`);
  expect(text).toContain("192.0.2.7");
  expect(text).not.toContain("::ffff:");
  expect(text).not.toContain("backup.restore");
});

test("the Backup tab's activity uses the same words", async () => {
  await page.goto("/settings/backup");
  const table = page.getByTestId("backup-audit-table");
  await table.waitFor();
  await expect.poll(() => table.innerText()).toContain(`admin restored ${RESTORED_FILE} (database, files)`);
  const text = await table.innerText();
  expect(text).toContain(`Retention removed ${RETENTION_FILE}`);
  expect(text).toContain("192.0.2.7");
  expect(text).not.toContain("::ffff:");
});
