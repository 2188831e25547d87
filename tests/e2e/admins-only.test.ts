/** A signed-in user without the admin role gets the "Admins only" page, and no backup data. */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { BOB_PASSWORD } from "./support/context";
import { launchBrowser, newContext, screenshot, signIn } from "./support/browser";

let browser: Browser;

beforeAll(async () => {
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
});

test("a non-admin opening the Backup tab sees Admins only, and the backup API refuses them", async () => {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    await signIn(page, "bob", BOB_PASSWORD);
    const response = await page.goto("/settings/backup");
    expect(response?.status()).toBe(200);
    await page.getByTestId("admins-only").waitFor();
    expect(await page.getByRole("heading", { name: "Admins only" }).isVisible()).toBe(true);
    expect(await page.getByText("The Backup tab needs an administrator account").isVisible()).toBe(true);
    expect(await page.getByRole("button", { name: "Create backup" }).count()).toBe(0);
    // No Backup tab is offered to a user.
    expect(await page.getByRole("navigation", { name: "Settings sections" }).getByRole("link", { name: "Backup" }).count()).toBe(0);
    await screenshot(page, "11-non-admin");

    // The doors behind the tab are closed too: the REST download and tRPC.
    const download = await page.request.get("/api/backups/1/download");
    expect(download.status()).toBe(403);
    const list = await page.request.get("/api/trpc/backup.list");
    expect(list.status()).toBe(403);
  } finally {
    await context.close();
  }
});
