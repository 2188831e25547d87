/**
 * Restore drills over tRPC: list them, read the last one, start one. Each procedure
 * validates, calls the drill service (server/backup/drill) and returns the shared contract.
 */
import { z } from "zod";
import { drillRecordSchema, listDrillsInput, runDrillInput, toDrillRecord } from "../../backup/drill/contract";
import { lastDrill, listDrills, runRestoreDrill } from "../../backup/drill/drill";
import { getConfig } from "../../config";
import { adminProcedure, createTRPCRouter } from "../trpc";

export const drillRouter = createTRPCRouter({
  /** Recent drills, newest first. */
  list: adminProcedure
    .input(listDrillsInput.optional())
    .output(z.array(drillRecordSchema))
    .query(({ ctx, input }) => listDrills(ctx.db, { limit: input?.limit, config: getConfig() }).map(toDrillRecord)),

  /** The newest drill (with its progress while it runs), or null before the first. */
  last: adminProcedure.output(drillRecordSchema.nullable()).query(({ ctx }) => {
    const row = lastDrill(ctx.db, { config: getConfig() });
    return row ? toDrillRecord(row) : null;
  }),

  /**
   * Starts a drill and answers at once with the running row: a drill of a large backup takes
   * a while, and the tab follows it through `last` (progress, then the result). Refusals
   * (another operation running, too little space, nothing to drill) are errors here.
   */
  run: adminProcedure
    .input(runDrillInput.optional())
    .output(drillRecordSchema)
    .mutation(async ({ ctx, input }) =>
      toDrillRecord(await runRestoreDrill({ db: ctx.db, config: getConfig(), actor: ctx.actor, backupId: input?.backup_id, wait: false })),
    ),
});
