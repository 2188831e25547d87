/**
 * Backups that happen by themselves, are checked by themselves and tell someone: in the
 * browser, an admin adds a backup plan and sees its next five runs before saving, runs it
 * now and sees the result on the plan and in the list; adds a webhook channel and sends a
 * test notification that a real HTTP server on 127.0.0.1 receives, correctly signed; runs a
 * restore drill; and reads the status line at the top. Runs last (files run in name order)
 * on the same server, and removes its plan and channel afterwards.
 */
import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ADMIN_PASSWORD } from "./support/context";
import { expectNoSeriousA11yViolations } from "./support/a11y";
import { launchBrowser, newContext, screenshot, signIn } from "./support/browser";

let browser: Browser;
let page: Page;
const pageProblems: string[] = [];

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}
const received: Received[] = [];
let receiver: http.Server;
let receiverUrl: string;

const PLAN = "Nightly from the browser";
const CHANNEL = "Ops webhook";
const SECRET = `e2e-${crypto.randomBytes(8).toString("hex")}`;

const planRow = () => page.locator('li[data-testid^="plan-"]').filter({ has: page.getByRole("heading", { name: PLAN }) });

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (s: string) => (body += s));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/baluhost`;

  browser = await launchBrowser();
  const context = await newContext(browser);
  page = await context.newPage();
  page.on("pageerror", (err) => pageProblems.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) pageProblems.push(`console: ${msg.text()}`);
  });
  await signIn(page, "admin", ADMIN_PASSWORD);
  await page.goto("/settings/backup");
  await page.getByRole("heading", { name: "Schedules" }).waitFor();
});

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => receiver?.close(() => resolve()));
});

describe("schedules, drills and notifications in the Backup tab", () => {
  test("an admin adds a plan, sees its next five runs before saving, and the plan lists its next run", async () => {
    await page.getByRole("button", { name: "Add plan" }).first().click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Name").fill(PLAN);
    await dialog.getByLabel("Daily at 03:00").check();

    const preview = dialog.getByTestId("plan-preview");
    await expect.poll(() => preview.locator("li").count(), { timeout: 15_000 }).toBe(5);
    const times = await preview.locator("li time").allTextContents();
    for (const t of times) expect(t).toContain("03:00");
    // Five different days, in order.
    const iso = await preview.locator("li time").evaluateAll((els) => els.map((e) => e.getAttribute("datetime")!));
    expect(new Set(iso).size).toBe(5);
    expect([...iso].sort()).toEqual(iso);
    await expectNoSeriousA11yViolations(page, "add backup plan dialog", { include: "dialog[open]" });
    await screenshot(page, "schedules-add-plan", { fullPage: false });

    await dialog.getByRole("button", { name: "Add plan" }).click();
    await dialog.waitFor({ state: "hidden" });
    await planRow().waitFor();
    expect(await planRow().getByTestId("plan-next-run").textContent()).not.toMatch(/None|Due now/);
    expect(await planRow().getByTestId("plan-last-result").textContent()).toBe("Not run yet");
  });

  test("Run now makes a verified backup that the plan and the list both show", async () => {
    await planRow().getByRole("button", { name: "Run now" }).click();
    await planRow().getByTestId("plan-last-result").filter({ hasText: "Succeeded" }).waitFor({ timeout: 90_000 });
    const row = page.locator('tbody tr[data-testid^="backup-row-"]').filter({ has: page.getByTestId("backup-plan-name").filter({ hasText: PLAN }) });
    await row.first().waitFor({ timeout: 15_000 });
    await row.first().filter({ hasText: "Verified" }).waitFor({ timeout: 30_000 });
    // The top line reads the same health as the monitoring endpoint: a backup just succeeded.
    const status = page.getByTestId("protection-status");
    await status.filter({ hasText: /Protected: last backup/ }).waitFor({ timeout: 40_000 });
    expect(await status.getAttribute("data-status")).not.toBe("critical");
    await screenshot(page, "schedules-plan-ran");
  });

  test("a restore drill runs from the tab and reports how long the restore took", async () => {
    await page.getByTestId("run-drill").click();
    await page.getByTestId("drill-status").filter({ hasText: /Last drill: passed/ }).waitFor({ timeout: 120_000 });
    expect(await page.getByTestId("drill-status").textContent()).toMatch(/restore took/);
  });

  test("a webhook channel receives a signed test notification, and its secret never comes back", async () => {
    await page.getByRole("button", { name: "Add channel" }).first().click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Name").fill(CHANNEL);
    await dialog.getByRole("textbox", { name: "URL" }).fill(receiverUrl);
    await dialog.getByLabel("Signing secret (optional)").fill(SECRET);
    await dialog.getByRole("button", { name: "Add channel" }).click();
    await dialog.waitFor({ state: "hidden" });

    const channels = page.getByTestId("notification-channels");
    await channels.filter({ hasText: CHANNEL }).waitFor();
    await page.getByRole("button", { name: `Send test notification to ${CHANNEL}` }).click();
    await channels.locator('[data-testid^="test-result-"]').filter({ hasText: "Test notification delivered" }).waitFor({ timeout: 30_000 });

    const test = received.find((r) => (JSON.parse(r.body) as { event?: string }).event === "test");
    expect(test, "the receiver got the test message").toBeDefined();
    const expected = `sha256=${crypto.createHmac("sha256", SECRET).update(test!.body).digest("hex")}`;
    expect(test!.headers["x-baluhost-signature"]).toBe(expected);
    expect(test!.headers["content-type"]).toMatch(/^application\/json/);

    await page.reload();
    await page.getByTestId("notification-channels").waitFor();
    expect(await page.content()).not.toContain(SECRET);
    await screenshot(page, "notifications-card");
  });

  test("the plan and the channel can be removed again", async () => {
    await planRow().getByRole("button", { name: `Delete ${PLAN}` }).click();
    await page.getByRole("dialog").getByRole("button", { name: /Delete/ }).click();
    await planRow().waitFor({ state: "detached" });

    const channelRow = page.getByTestId("notification-channels").locator("tr").filter({ hasText: CHANNEL });
    await channelRow.getByRole("button", { name: /Remove|Delete/ }).click();
    await page.getByRole("dialog").getByRole("button", { name: /Remove|Delete/ }).click();
    await page.getByTestId("notification-channels").waitFor({ state: "detached" });
    expect(pageProblems).toEqual([]);
  });
});
