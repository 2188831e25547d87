/**
 * Where each backup's offsite copies stand, for the backup list, the API and the CLI:
 * one state per target that has a row (queued, uploading with progress, verified, failed
 * with the reason).
 */
import { eq } from "drizzle-orm";
import { z } from "zod";
import type { AppDatabase } from "@/db/client";
import { offsiteCopies, OFFSITE_COPY_STATUSES, offsiteTargets } from "@/db/schema";

export const copyStateSchema = z.object({
  backup_id: z.number(),
  target_id: z.number(),
  target_name: z.string(),
  status: z.enum(OFFSITE_COPY_STATUSES),
  bytes_done: z.number(),
  bytes_total: z.number(),
  attempts: z.number(),
  /** The last failure; on a queued row, why it is waiting for another attempt. */
  error: z.string().nullable(),
  next_attempt_at: z.string().nullable(),
  verified_at: z.string().nullable(),
  remote_key: z.string().nullable(),
});
export type CopyState = z.output<typeof copyStateSchema>;

function select(db: AppDatabase) {
  return db
    .select({ copy: offsiteCopies, targetName: offsiteTargets.name })
    .from(offsiteCopies)
    .innerJoin(offsiteTargets, eq(offsiteTargets.id, offsiteCopies.targetId));
}

function toState({ copy, targetName }: { copy: typeof offsiteCopies.$inferSelect; targetName: string }): CopyState {
  return {
    backup_id: copy.backupId,
    target_id: copy.targetId,
    target_name: targetName,
    status: copy.status,
    bytes_done: copy.bytesDone,
    bytes_total: copy.bytesTotal,
    attempts: copy.attempts,
    error: copy.lastError,
    next_attempt_at: copy.status === "queued" ? copy.nextAttemptAt.toISOString() : null,
    verified_at: copy.verifiedAt?.toISOString() ?? null,
    remote_key: copy.remoteKey,
  };
}

export function copyStates(db: AppDatabase, backupId: number): CopyState[] {
  return select(db).where(eq(offsiteCopies.backupId, backupId)).orderBy(offsiteTargets.name).all().map(toState);
}

/** Every copy state, for the list (a few rows per backup at most). */
export function allCopyStates(db: AppDatabase): CopyState[] {
  return select(db).orderBy(offsiteCopies.backupId, offsiteTargets.name).all().map(toState);
}
