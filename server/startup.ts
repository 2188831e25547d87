/**
 * Start-up of the app, run once per process by every door (web server, CLI, tests):
 * folders created, migrations applied, the first admin bootstrapped, and the start-up
 * hooks of other modules (crash recovery, retention) run. Idempotent.
 */
import { getDb, openDatabase, setDatabaseLocator } from "@/db/client";
import { recordAudit } from "./audit";
import { startBackupSystem } from "./backup/recovery";
import { recoverRestore } from "./backup/restore/journal";
import { ensureDirectories, getConfig, type AppConfig } from "./config";
import { bootstrapAdmin } from "./users";

const holder = globalThis as unknown as {
  __baluhostStarted?: boolean;
  __baluhostBackgroundStartup?: Promise<void>;
};

export interface StartOptions {
  /** Print a generated admin password to the console (true for the web server). */
  announceAdminPassword?: boolean;
}

export function ensureStarted(options: StartOptions = {}): AppConfig {
  const config = getConfig();
  if (holder.__baluhostStarted) return config;
  ensureDirectories(config);
  setDatabaseLocator(() => getConfig().databasePath);
  // Before the database opens: a restore cut short by a crash is finished (or its staging removed).
  const finishedRestore = recoverRestore(config, (file) => openDatabase(file).sqlite.close());
  const db = getDb();
  if (finishedRestore) {
    recordAudit(db, {
      action: "backup.restore",
      actor: { id: finishedRestore.actor.id, username: finishedRestore.actor.username },
      resource: `backup:${finishedRestore.backupId}`,
      success: true,
      details: { completed_at_startup: true, safety_backup_id: finishedRestore.safetyBackupId },
    });
  }
  const admin = bootstrapAdmin(db, config.adminPassword);
  if (admin.created && admin.generatedPassword && options.announceAdminPassword !== false) {
    // Printed once, on the first start only: there is no other way to learn it.
    console.log(
      `\n  BaluHost: created user "admin" with password: ${admin.generatedPassword}\n` +
        `  Sign in and keep it safe; reset it with: npm run -s cli -- user reset-password admin\n`,
    );
  } else if (admin.created && options.announceAdminPassword !== false) {
    console.log(`BaluHost: created user "admin" with the password from ADMIN_PASSWORD.`);
  }
  holder.__baluhostStarted = true;
  // Crash recovery and retention touch files only; requests need not wait for them.
  holder.__baluhostBackgroundStartup = startBackupSystem(db, config).catch((err) => {
    console.error("[startup] backup recovery failed:", err);
  });
  return config;
}

/** Resolves when the start-up work that runs in the background has finished. */
export async function startupSettled(): Promise<void> {
  await holder.__baluhostBackgroundStartup;
}

/** Forgets that start-up ran (tests start many apps in one process). */
export function resetStartup(): void {
  holder.__baluhostStarted = false;
}
