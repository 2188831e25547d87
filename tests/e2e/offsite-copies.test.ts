/**
 * Offsite copies in the browser, against the real `next start` and a real S3 server (Ceph
 * radosgw): an admin adds a target (keys write-only), tests the connection, makes a backup
 * and sees the web server's copier upload and verify it in the list, then sees it in the
 * target's contents, read from the bucket. Removes its target at the end.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { dropBucket, freshBucket, s3Endpoint } from "../helpers/s3";
import { ADMIN_PASSWORD } from "./support/context";
import { expectNoSeriousA11yViolations } from "./support/a11y";
import { launchBrowser, newContext, screenshot, signIn } from "./support/browser";

let browser: Browser;
let page: Page;
let bucket: string;
const pageProblems: string[] = [];
const TARGET = "Offsite bucket";

describe.skipIf(!s3Endpoint)("offsite copies in the Backup tab", () => {
  beforeAll(async () => {
    bucket = await freshBucket();
    browser = await launchBrowser();
    page = await (await newContext(browser)).newPage();
    page.on("pageerror", (err) => pageProblems.push(`pageerror: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) pageProblems.push(`console: ${msg.text()}`);
    });
    await signIn(page, "admin", ADMIN_PASSWORD);
    await page.goto("/settings/backup");
    await page.getByRole("heading", { name: "Offsite copies" }).waitFor();
  });
  afterAll(async () => {
    await browser?.close();
    if (bucket) await dropBucket(bucket);
  });

  test("an admin adds a target whose keys never come back, and Test connection says it works", async () => {
    await page.getByRole("button", { name: "Add target" }).first().click();
    const dialog = page.getByRole("dialog", { name: "Add offsite target" });
    await dialog.getByLabel("Name", { exact: true }).fill(TARGET);
    await dialog.getByLabel("Endpoint URL", { exact: true }).fill(s3Endpoint!.endpoint);
    await dialog.getByLabel("Bucket", { exact: true }).fill(bucket);
    await dialog.getByLabel("Path-style URLs").check();
    await dialog.getByLabel("Access key", { exact: true }).fill(s3Endpoint!.accessKeyId);
    await dialog.getByLabel("Secret key", { exact: true }).fill(s3Endpoint!.secretAccessKey);
    await expectNoSeriousA11yViolations(page, "add offsite target dialog", { include: "dialog[open]" });
    await dialog.getByRole("button", { name: "Add target" }).click();
    await dialog.waitFor({ state: "hidden" });

    await page.getByRole("button", { name: `Test connection to ${TARGET}` }).click();
    await page.locator('[data-testid^="offsite-test-result-"]').filter({ hasText: "Connection works" }).waitFor({ timeout: 30_000 });
    await page.reload();
    await page.getByTestId("offsite-targets").waitFor();
    expect(await page.content()).not.toContain(s3Endpoint!.secretAccessKey);
    await screenshot(page, "offsite-card");
  });

  test("a new backup is copied and verified in the background, and the list shows it per target", async () => {
    await page.getByRole("button", { name: "Create backup" }).first().click();
    const create = page.getByRole("dialog", { name: "Create backup" });
    await create.getByRole("radio", { name: /^Full/ }).check();
    await create.getByRole("button", { name: "Create backup" }).click();
    await create.waitFor({ state: "hidden" });
    const row = page.locator('tbody tr[data-testid^="backup-row-"]').first();
    // The web server's copier picks the backup up within its 15 s tick, uploads it and reads it back.
    await row.getByTestId("offsite-states").locator('[data-status="verified"]').waitFor({ timeout: 90_000 });
    expect(await row.getByTestId("offsite-states").textContent()).toContain(`Offsite: ${TARGET}`);
    await screenshot(page, "offsite-copied");

    const filename = (await row.locator("td").first().locator(".mono").first().innerText()).trim();
    await page.getByRole("button", { name: `Show the backups on ${TARGET}` }).click();
    const contents = page.getByRole("dialog", { name: `Backups on “${TARGET}”` });
    await contents.getByTestId("offsite-contents").filter({ hasText: filename }).waitFor({ timeout: 30_000 });
    expect(await contents.getByTestId("offsite-contents").locator("tr").filter({ hasText: filename }).textContent()).toContain("In the list");
    await expectNoSeriousA11yViolations(page, "offsite contents dialog", { include: "dialog[open]" });
    await contents.getByRole("button", { name: "Close" }).first().click();
  });

  test("the target can be removed again; its copies stay in the bucket", async () => {
    await page.getByRole("button", { name: `Remove target ${TARGET}` }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Remove target" }).click();
    await page.getByTestId("offsite-targets").waitFor({ state: "detached" });
    expect(pageProblems).toEqual([]);
  });
});
