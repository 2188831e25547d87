/** API tokens: admins create (shown once), list and revoke them. */
import { z } from "zod";
import { recordAudit } from "../../audit";
import { createApiToken, listApiTokens, revokeApiToken } from "../../tokens";
import { adminProcedure, createTRPCRouter } from "../trpc";

const tokenSummary = z.object({
  id: z.number(),
  name: z.string(),
  token_prefix: z.string(),
  username: z.string(),
  created_at: z.string(),
  last_used_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
});

export const tokensRouter = createTRPCRouter({
  list: adminProcedure.output(z.array(tokenSummary)).query(({ ctx }) =>
    listApiTokens(ctx.db).map((t) => ({
      id: t.id,
      name: t.name,
      token_prefix: t.tokenPrefix,
      username: t.username,
      created_at: t.createdAt.toISOString(),
      last_used_at: t.lastUsedAt?.toISOString() ?? null,
      revoked_at: t.revokedAt?.toISOString() ?? null,
    })),
  ),

  create: adminProcedure
    .input(z.object({ name: z.string().trim().min(1, "Give the token a name").max(100) }))
    .output(z.object({ id: z.number(), name: z.string(), token: z.string() }))
    .mutation(({ ctx, input }) => {
      const created = createApiToken(ctx.db, { userId: ctx.user.id, name: input.name });
      recordAudit(ctx.db, {
        action: "token.create",
        actor: ctx.actor,
        resource: `token:${created.id}`,
        success: true,
        details: { name: created.name, prefix: created.tokenPrefix },
      });
      return { id: created.id, name: created.name, token: created.token };
    }),

  revoke: adminProcedure
    .input(z.object({ id: z.number().int().positive() }))
    .output(z.object({ id: z.number() }))
    .mutation(({ ctx, input }) => {
      try {
        const revoked = revokeApiToken(ctx.db, input.id);
        recordAudit(ctx.db, {
          action: "token.revoke",
          actor: ctx.actor,
          resource: `token:${revoked.id}`,
          success: true,
          details: { name: revoked.name },
        });
        return { id: revoked.id };
      } catch (err) {
        recordAudit(ctx.db, {
          action: "token.revoke",
          actor: ctx.actor,
          resource: `token:${input.id}`,
          success: false,
          errorMessage: err instanceof Error ? err.message : String(err),
        });
        throw err;
      }
    }),
});
