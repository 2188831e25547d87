/** API tokens: admins create (shown once), list and revoke them. */
import { z } from "zod";
import { recordAudit } from "../../audit";
import { createApiToken, listApiTokens, revokeApiToken, TOKEN_SCOPES } from "../../tokens";
import { adminProcedure, createTRPCRouter } from "../trpc";

const tokenSummary = z.object({
  id: z.number(),
  name: z.string(),
  token_prefix: z.string(),
  /** "full": acts as its user everywhere; "monitoring": reads only health and metrics. */
  scope: z.enum(TOKEN_SCOPES),
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
      scope: t.scope,
      username: t.username,
      created_at: t.createdAt.toISOString(),
      last_used_at: t.lastUsedAt?.toISOString() ?? null,
      revoked_at: t.revokedAt?.toISOString() ?? null,
    })),
  ),

  create: adminProcedure
    .input(z.object({ name: z.string().trim().min(1, "Give the token a name").max(100), scope: z.enum(TOKEN_SCOPES).default("full") }))
    .output(z.object({ id: z.number(), name: z.string(), token: z.string(), scope: z.enum(TOKEN_SCOPES) }))
    .mutation(({ ctx, input }) => {
      const created = createApiToken(ctx.db, { userId: ctx.user.id, name: input.name, scope: input.scope });
      recordAudit(ctx.db, {
        action: "token.create",
        actor: ctx.actor,
        resource: `token:${created.id}`,
        success: true,
        details: { name: created.name, prefix: created.tokenPrefix, scope: created.scope },
      });
      return { id: created.id, name: created.name, token: created.token, scope: created.scope };
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
