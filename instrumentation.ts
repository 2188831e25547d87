/** Next.js calls register() once when the server starts: run start-up before the first request. */
export async function register() {
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { ensureStarted } = await import("./server/startup");
    ensureStarted({ announceAdminPassword: true });
    // Only the web server deletes old backups on a timer (the CLI never does outside backup work).
    const { startRetentionTimer } = await import("./server/backup/schedule/retention-timer");
    startRetentionTimer();
    // Backup plans run only from the web server (seeding BACKUP_AUTO_* once; a bad value stops start-up).
    const { startBackupScheduler } = await import("./server/backup/schedule/scheduler");
    startBackupScheduler();
    // Notifications: deliver the outbox, and watch for lasting conditions (no recent backup, low disk).
    const [{ startNotificationSender }, { startAlertMonitor }, { getDb }, { getConfig }] = await Promise.all([
      import("./server/backup/notify/sender"),
      import("./server/backup/notify/monitor"),
      import("./db/client"),
      import("./server/config"),
    ]);
    startNotificationSender({ db: getDb, config: getConfig });
    startAlertMonitor({ db: getDb, config: getConfig });
    // Offsite copies: drain the copy queue (new backups from anywhere, retries, uploads a killed process left).
    const { startOffsiteCopier } = await import("./server/backup/targets/copy-queue");
    startOffsiteCopier({ db: getDb, config: getConfig });
  }
}
