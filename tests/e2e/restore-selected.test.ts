/**
 * Taking back what was lost: an admin browses a backup in the Backup tab, opens the storage,
 * ticks one folder that was deleted since, restores it to where it was, and finds it back on
 * disk, byte for byte, while a file changed since the backup stays as it is now. The backup
 * this file makes is deleted again at the end, so later files see the tab as before.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { expectNoSeriousA11yViolations } from "./support/a11y";
import { e2e, launchBrowser, newContext, screenshot, signIn } from "./support/browser";
import { e2eCliEnv, REPO_ROOT } from "./support/cli";
import { ADMIN_PASSWORD, SEED_FILES } from "./support/context";

let browser: Browser;
let page: Page;
let backup: { id: number; filename: string } | null = null;
const pageProblems: string[] = [];

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", "server/cli.ts", ...args], { cwd: REPO_ROOT, env: e2eCliEnv(), encoding: "utf8" });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const store = (rel: string) => path.join(e2e().storagePath, rel);

beforeAll(async () => {
  const made = cli(["--json", "backup", "create", "--type", "files_only"]);
  expect(made.code, made.stderr).toBe(0);
  backup = JSON.parse(made.stdout) as { id: number; filename: string };
  browser = await launchBrowser();
  page = await (await newContext(browser)).newPage();
  page.on("pageerror", (err) => pageProblems.push(`pageerror: ${err.message}`));
  await signIn(page, "admin", ADMIN_PASSWORD);
});

afterAll(async () => {
  await browser?.close();
  if (backup) cli(["backup", "delete", String(backup.id)]);
});

test("browse a backup, tick a deleted folder, restore it, and see it back", async () => {
  const { filename } = backup!;
  fs.rmSync(store("documents"), { recursive: true });
  fs.writeFileSync(store("photos/2024/holiday.txt"), "changed after the backup\n");

  await page.goto("/settings/backup");
  await page.getByRole("button", { name: `Browse ${filename}` }).click();
  const browse = page.getByRole("dialog", { name: `Browse ${filename}` });
  await browse.waitFor();
  // Opens in the storage, one folder at a time.
  await browse.getByRole("button", { name: "Open folder documents" }).waitFor();

  // What changed since: documents is gone from the live storage.
  await browse.getByLabel("Compare with current files").check();
  await browse.getByTestId("browse-diff-summary").filter({ hasText: "1 deleted" }).waitFor();
  await browse.locator('[data-path="files/documents"]').getByText("Deleted since").waitFor();
  await expectNoSeriousA11yViolations(page, "Browse dialog", { include: "dialog[open]" });
  await screenshot(page, "20-browse-backup");

  // Inside a folder: its files, and a way back up.
  await browse.getByRole("button", { name: "Open folder documents" }).click();
  await browse.locator('[data-path="files/documents/notes.txt"]').waitFor();
  await browse.getByRole("button", { name: "Up", exact: true }).click();

  await browse.getByRole("checkbox", { name: "Select files/documents" }).check();
  await browse.getByTestId("browse-selected").filter({ hasText: "1 selected" }).waitFor();
  await browse.getByRole("button", { name: "Restore selected…" }).click();

  const restore = page.getByRole("dialog", { name: "Restore 1 selected item" });
  await restore.getByTestId("browse-restore-plan").filter({ hasText: "2 files" }).waitFor();
  expect(await restore.getByRole("radio", { name: /Where they were/ }).isChecked()).toBe(true);
  await restore.getByTestId("browse-restore-plan").getByText("Nothing current is replaced.").waitFor();
  await screenshot(page, "21-browse-restore-plan");
  await restore.getByRole("button", { name: "Restore", exact: true }).click();

  const done = page.getByRole("dialog", { name: "Restored" });
  await done.getByTestId("browse-restore-done").filter({ hasText: "Restored 2 files" }).waitFor();
  for (const rel of ["documents/notes.txt", "documents/todo.md"]) expect(fs.readFileSync(store(rel), "utf8")).toBe(SEED_FILES[rel]);
  // Not selected: left as it is now.
  expect(fs.readFileSync(store("photos/2024/holiday.txt"), "utf8")).toBe("changed after the backup\n");
  await done.getByRole("button", { name: "Close" }).last().click(); // the footer's, not the ×
  fs.writeFileSync(store("photos/2024/holiday.txt"), SEED_FILES["photos/2024/holiday.txt"]!);
  expect(pageProblems).toEqual([]);
});

test("one file downloads straight out of the backup", async () => {
  const { id } = backup!;
  const res = await page.request.get(`/api/backups/${id}/file?path=${encodeURIComponent("files/documents/todo.md")}`);
  expect(res.status()).toBe(200);
  expect(res.headers()["content-length"]).toBe(String(Buffer.byteLength(SEED_FILES["documents/todo.md"]!)));
  expect(await res.text()).toBe(SEED_FILES["documents/todo.md"]);
});
