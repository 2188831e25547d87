/** What the global setup hands to the e2e tests, and the fixed facts both sides rely on. */

export const CHROMIUM_PATH = "/usr/bin/chromium";
export const ADMIN_PASSWORD = "admin-password-1";
export const BOB_PASSWORD = "bob-password-1";

/** User files the setup puts in storage before the server starts (path → content). */
export const SEED_FILES: Record<string, string> = {
  "documents/notes.txt": "Original notes: the quarterly plan.\n",
  "documents/todo.md": "- back up the NAS\n- test a restore\n",
  "photos/2024/holiday.txt": "not really a photo, but a file in a nested folder\n",
};

export interface E2EContext {
  /** http://127.0.0.1:<port> of the running `next start`. */
  baseUrl: string;
  /** The temp folder holding everything below (removed after the run unless E2E_KEEP=1). */
  root: string;
  databasePath: string;
  storagePath: string;
  configPath: string;
  backupPath: string;
  /** test-output/e2e: screenshots, server and build logs. */
  outputDir: string;
}
