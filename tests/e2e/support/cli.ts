/** Running the real CLI against the e2e server's folders, as an admin would on the NAS. */
import path from "node:path";
import { ADMIN_PASSWORD } from "./context";
import { e2e } from "./browser";

export const REPO_ROOT = path.resolve(__dirname, "../../..");

/** The CLI's environment: ours without any app setting, plus the e2e server's folders. */
export function e2eCliEnv(): NodeJS.ProcessEnv {
  const ctx = e2e();
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(NAS_|ADMIN_|NEXTAUTH_|PORT$|NODE_ENV$)/.test(k)));
  return {
    ...inherited,
    NAS_DATABASE_PATH: ctx.databasePath,
    NAS_STORAGE_PATH: ctx.storagePath,
    NAS_CONFIG_PATH: ctx.configPath,
    NAS_BACKUP_PATH: ctx.backupPath,
    // As the server has it (global-setup.ts), so the CLI's retention follows the same rules.
    NAS_BACKUP_MAX_COUNT: "50",
    ADMIN_PASSWORD,
  } as unknown as NodeJS.ProcessEnv;
}
