/**
 * Backup plans over tRPC (Settings → Backup → Schedules): each procedure validates input,
 * calls the plan service or "Run now", and returns the plan contract. Admin-only.
 */
import { z } from "zod";
import { getConfig } from "../../config";
import { backupRecordSchema, toBackupRecord } from "../../backup/contract";
import { cronProblem, describeCron, previewRuns, serverTimezone, timezoneProblem } from "../../backup/schedule/cron";
import {
  createPlan,
  deletePlan,
  getPlanRow,
  listPlans,
  planIdSchema,
  planInput,
  planPatch,
  planRecordSchema,
  setPlanEnabled,
  toPlanRecord,
  updatePlan,
} from "../../backup/schedule/plans";
import { runPlanNow } from "../../backup/schedule/runs";
import { progressOf } from "../../backup/service";
import { adminProcedure, createTRPCRouter } from "../trpc";

const byId = z.object({ id: planIdSchema });

export const scheduleRouter = createTRPCRouter({
  /** Every plan with its next run, last result and newest backups; and the server's time zone for new plans. */
  list: adminProcedure
    .output(z.object({ plans: z.array(planRecordSchema), server_timezone: z.string() }))
    .query(({ ctx }) => ({ plans: listPlans(ctx.db), server_timezone: serverTimezone() })),

  get: adminProcedure
    .input(byId)
    .output(planRecordSchema)
    .query(({ ctx, input }) => toPlanRecord(ctx.db, getPlanRow(ctx.db, input.id))),

  /**
   * The next five runs of a schedule, for the plan dialog while the admin types. A bad
   * expression or zone is not an error here but the answer: `error` says what is wrong.
   */
  preview: adminProcedure
    .input(z.object({ cron: z.string().max(200), timezone: z.string().max(100) }))
    .output(z.object({ runs: z.array(z.string()), schedule_text: z.string().nullable(), error: z.string().nullable() }))
    .query(({ input }) => {
      const problem = timezoneProblem(input.timezone) ?? cronProblem(input.cron, input.timezone);
      if (problem) return { runs: [], schedule_text: null, error: problem };
      return { runs: previewRuns(input.cron, input.timezone, 5), schedule_text: describeCron(input.cron), error: null };
    }),

  create: adminProcedure
    .input(planInput)
    .output(planRecordSchema)
    .mutation(({ ctx, input }) => toPlanRecord(ctx.db, createPlan({ db: ctx.db, config: getConfig(), actor: ctx.actor, input }))),

  update: adminProcedure
    .input(planPatch.extend({ id: planIdSchema }))
    .output(planRecordSchema)
    .mutation(({ ctx, input: { id, ...patch } }) =>
      toPlanRecord(ctx.db, updatePlan({ db: ctx.db, config: getConfig(), actor: ctx.actor, id, patch })),
    ),

  setEnabled: adminProcedure
    .input(z.object({ id: planIdSchema, enabled: z.boolean() }))
    .output(planRecordSchema)
    .mutation(({ ctx, input }) =>
      toPlanRecord(ctx.db, setPlanEnabled({ db: ctx.db, config: getConfig(), actor: ctx.actor, id: input.id, enabled: input.enabled })),
    ),

  remove: adminProcedure
    .input(byId)
    .output(z.object({ success: z.literal(true), id: z.number() }))
    .mutation(({ ctx, input }) => {
      deletePlan({ db: ctx.db, config: getConfig(), actor: ctx.actor, id: input.id });
      return { success: true as const, id: input.id };
    }),

  /** Starts the plan's backup now (answers at once with it in progress; verified and recorded on the plan when done). */
  runNow: adminProcedure
    .input(byId)
    .output(backupRecordSchema)
    .mutation(async ({ ctx, input }) => {
      const { started } = await runPlanNow({ db: ctx.db, config: getConfig(), actor: ctx.actor, planId: input.id });
      return toBackupRecord(started, progressOf(started.id));
    }),
});
