/** The signed-in user's own view of themselves. */
import { z } from "zod";
import { createTRPCRouter, publicProcedure } from "../trpc";

const meOutput = z
  .object({ id: z.number(), username: z.string(), role: z.enum(["admin", "user"]) })
  .nullable();

export const accountRouter = createTRPCRouter({
  /** The current user, or null when signed out. */
  me: publicProcedure.output(meOutput).query(({ ctx }) =>
    ctx.user ? { id: ctx.user.id, username: ctx.user.username, role: ctx.user.role } : null,
  ),
});
