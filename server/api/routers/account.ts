/** The signed-in user's own view of themselves, and what every user may know about their data. */
import { z } from "zod";
import { lastFilesBackupAt } from "../../last-backup";
import { createTRPCRouter, protectedProcedure, publicProcedure } from "../trpc";

const meOutput = z
  .object({ id: z.number(), username: z.string(), role: z.enum(["admin", "user"]) })
  .nullable();

export const accountRouter = createTRPCRouter({
  /** The current user, or null when signed out. */
  me: publicProcedure.output(meOutput).query(({ ctx }) =>
    ctx.user ? { id: ctx.user.id, username: ctx.user.username, role: ctx.user.role } : null,
  ),

  /**
   * When the files were last backed up (ISO time of the newest completed backup that
   * includes files), or null. Any signed-in user: only this one timestamp, no backup details.
   */
  lastFilesBackup: protectedProcedure
    .output(z.object({ last_files_backup_at: z.string().nullable() }).strict())
    .query(({ ctx }) => ({ last_files_backup_at: lastFilesBackupAt(ctx.db)?.toISOString() ?? null })),
});
