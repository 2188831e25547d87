/**
 * The backup list on a 390 px phone: every row action shows its word (no hover tooltips
 * on touch) and works when tapped, and long file names wrap after "_" or ".", never
 * inside a word, without pushing the page sideways. Rows are seeded straight into the
 * catalog (no archives needed to show them) and removed again at the end.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { launchBrowser, newContext, screenshot, signIn } from "./support/browser";
import { ADMIN_PASSWORD } from "./support/context";
import { deleteBackupRows, insertBackups } from "./support/db";

const LONG_NAME = "backup_20261201_030000_nightly_offsite_copy_of_the_family_photo_share.tar.gz";

let browser: Browser;
let context: BrowserContext;
let page: Page;
let ids: number[] = [];

beforeAll(async () => {
  browser = await launchBrowser();
  // Signed in on a desk (the phone shell hides the username signIn waits for), used on the phone.
  const desk = await newContext(browser);
  await signIn(await desk.newPage(), "admin", ADMIN_PASSWORD);
  context = await newContext(browser, { viewport: { width: 390, height: 844 }, hasTouch: true, storageState: await desk.storageState() });
  await desk.close();
  page = await context.newPage();
  // Newer than anything else, so it is the first row.
  ids = insertBackups([{ filename: LONG_NAME, createdAt: Date.now() + 60_000 }]);
  await page.goto("/settings/backup");
  await page.getByTestId(`backup-row-${ids[0]}`).waitFor();
});

afterAll(async () => {
  deleteBackupRows(ids);
  await browser?.close();
});

test("each row action shows its word at phone width and is big enough to tap", async () => {
  const row = page.getByTestId(`backup-row-${ids[0]}`);
  for (const word of ["Verify", "Download", "Restore", "Delete"]) {
    const action = row.getByRole(word === "Download" ? "link" : "button", { name: `${word} ${LONG_NAME}` });
    expect(await action.innerText()).toBe(word);
    const box = await action.boundingBox();
    expect(box!.height).toBeGreaterThanOrEqual(40);
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(390);
  }
  await row.scrollIntoViewIfNeeded();
  await screenshot(page, "12-phone-row-actions", { fullPage: false });
});

test("tapping Restore opens the restore dialog for that backup", async () => {
  await page.getByTestId(`backup-row-${ids[0]}`).getByRole("button", { name: `Restore ${LONG_NAME}` }).tap();
  const dialog = page.getByRole("dialog", { name: `Restore ${LONG_NAME}?` });
  await dialog.waitFor();
  await dialog.getByRole("button", { name: "Cancel" }).tap();
  await dialog.waitFor({ state: "hidden" });
});

test("the labels stay hidden on a desk, where the icons have tooltips", async () => {
  const desk = await newContext(browser, { storageState: await context.storageState() });
  try {
    const wide = await desk.newPage();
    await wide.goto("/settings/backup");
    const action = wide.getByTestId(`backup-row-${ids[0]}`).getByRole("button", { name: `Delete ${LONG_NAME}` });
    await action.waitFor();
    expect((await action.innerText()).trim()).toBe("");
    expect(await action.getAttribute("title")).toBe("Delete");
  } finally {
    await desk.close();
  }
});

test("a long file name wraps after _ or ., never inside a word, and nothing overflows", async () => {
  const name = page.getByTestId(`backup-row-${ids[0]}`).locator("td").first().locator(".mono").first();
  expect((await name.innerText()).trim()).toBe(LONG_NAME);
  const layout = await name.evaluate((el) => {
    const lines = new Set<number>();
    const brokenInside: string[] = [];
    for (const node of Array.from(el.childNodes)) {
      if (node.nodeType !== Node.TEXT_NODE || !node.textContent) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const tops = new Set(Array.from(range.getClientRects()).map((r) => Math.round(r.top)));
      // A piece between two break points on more than one line was broken inside a word.
      if (tops.size > 1) brokenInside.push(node.textContent);
      for (const top of tops) lines.add(top);
    }
    const box = el.getBoundingClientRect();
    return { lines: lines.size, brokenInside, right: box.right, pageOverflow: document.documentElement.scrollWidth - document.documentElement.clientWidth };
  });
  expect(layout.lines).toBeGreaterThan(1);
  expect(layout.brokenInside).toEqual([]);
  expect(layout.right).toBeLessThanOrEqual(390);
  expect(layout.pageOverflow).toBeLessThanOrEqual(0);
});
