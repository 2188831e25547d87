/**
 * When the user files were last backed up: the completion time of the newest completed
 * backup that includes the files. The one backup fact every signed-in user may see (it
 * tells them whether their files are safe); everything else about backups is admin-only.
 */
import { and, desc, eq, isNotNull } from "drizzle-orm";
import type { AppDatabase } from "@/db/client";
import { backups } from "@/db/schema";

export function lastFilesBackupAt(db: AppDatabase): Date | null {
  const row = db
    .select({ completedAt: backups.completedAt })
    .from(backups)
    .where(and(eq(backups.status, "completed"), eq(backups.includesFiles, true), isNotNull(backups.completedAt)))
    .orderBy(desc(backups.completedAt))
    .limit(1)
    .get();
  return row?.completedAt ?? null;
}
