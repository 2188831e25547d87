/** The audit log, read by admins: filter by action (or action prefix) and user, paginated by id. */
import { z } from "zod";
import { listAudit } from "../../audit";
import { adminProcedure, createTRPCRouter } from "../trpc";

const auditEntry = z.object({
  id: z.number(),
  created_at: z.string(),
  action: z.string(),
  actor_id: z.number().nullable(),
  actor_name: z.string(),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  resource: z.string().nullable(),
  success: z.boolean(),
  error_message: z.string().nullable(),
  details: z.record(z.string(), z.unknown()).nullable(),
});

export const auditRouter = createTRPCRouter({
  list: adminProcedure
    .input(
      z.object({
        action: z.string().max(100).optional(),
        action_prefix: z.string().max(100).optional(),
        actor_name: z.string().max(100).optional(),
        success: z.boolean().optional(),
        cursor: z.number().int().positive().optional(),
        limit: z.number().int().min(1).max(200).default(50),
      }),
    )
    .output(z.object({ entries: z.array(auditEntry), next_cursor: z.number().nullable(), total: z.number() }))
    .query(({ ctx, input }) => {
      const page = listAudit(ctx.db, {
        action: input.action,
        actionPrefix: input.action_prefix,
        actorName: input.actor_name,
        success: input.success,
        beforeId: input.cursor,
        limit: input.limit,
      });
      return {
        entries: page.entries.map((e) => ({
          id: e.id,
          created_at: e.createdAt.toISOString(),
          action: e.action,
          actor_id: e.actorId,
          actor_name: e.actorName,
          ip: e.ip,
          user_agent: e.userAgent,
          resource: e.resource,
          success: e.success,
          error_message: e.errorMessage,
          details: e.details ?? null,
        })),
        next_cursor: page.nextCursor,
        total: page.total,
      };
    }),
});
