/**
 * tRPC set-up: the context, the error formatter and the procedure ladder. Routers import
 * only what is exported here.
 *
 * The context is split so tests can build it without HTTP: createInnerContext takes the
 * user and the database directly; createRequestContext reads them from a request.
 */
import { initTRPC, TRPCError } from "@trpc/server";
import { z, ZodError } from "zod";
import { getDb, type AppDatabase } from "@/db/client";
import type { Actor } from "../audit";
import { clientIpFromHeaders } from "../auth/headers";
import { resolveRequestUser, type RequestUser } from "../auth/request";
import { assertNoRestoreRunning } from "../backup/lock";
import { getConfig } from "../config";
import { AppError, GENERIC_INTERNAL_MESSAGE } from "../errors";
import { ensureStarted } from "../startup";

export interface Context {
  db: AppDatabase;
  user: RequestUser | null;
  ip: string | null;
  userAgent: string | null;
}

/** The context without HTTP: tests and server-side callers pass the user themselves. */
export function createInnerContext(opts: {
  user: RequestUser | null;
  db?: AppDatabase;
  ip?: string | null;
  userAgent?: string | null;
}): Context {
  return { db: opts.db ?? getDb(), user: opts.user, ip: opts.ip ?? null, userAgent: opts.userAgent ?? null };
}

/** The context of an HTTP request: the user from a bearer token or the session cookie. */
export async function createRequestContext(req: Request): Promise<Context> {
  ensureStarted();
  let user: RequestUser | null;
  try {
    user = await resolveRequestUser(req);
  } catch (err) {
    // A refused credential (a monitoring-scope token) answers with its own status, not a 500.
    if (err instanceof AppError) throw new TRPCError({ code: err.trpcCode, message: err.message, cause: err });
    throw err;
  }
  return createInnerContext({
    user,
    ip: clientIpFromHeaders(req.headers),
    userAgent: req.headers.get("user-agent"),
  });
}

const t = initTRPC.context<Context>().create({
  errorFormatter({ shape, error }) {
    const appError = error.cause instanceof AppError ? error.cause : null;
    const internal = error.code === "INTERNAL_SERVER_ERROR" && !appError;
    const { stack: _stack, ...data } = shape.data;
    return {
      ...shape,
      // An unexpected error's text may hold paths or SQL: it is logged, never sent.
      message: internal ? GENERIC_INTERNAL_MESSAGE : shape.message,
      data: {
        ...data,
        appCode: appError?.code ?? null,
        zodError: error.cause instanceof ZodError ? z.flattenError(error.cause) : null,
      },
    };
  },
});

/** Turns the domain's AppError into the matching tRPC error, so services need not know tRPC. */
const mapAppErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof AppError) {
    const cause = result.error.cause;
    throw new TRPCError({ code: cause.trpcCode, message: cause.message, cause });
  }
  return result;
});

export const createTRPCRouter = t.router;
export const createCallerFactory = t.createCallerFactory;

/** Open to anyone, signed in or not. */
export const publicProcedure = t.procedure.use(mapAppErrors);

/** Requires a signed-in user (session or API token); `ctx.user` is non-null after it. */
export const protectedProcedure = publicProcedure.use(({ ctx, type, next }) => {
  if (!ctx.user) throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in to continue." });
  // A restore replaces the data under every handle: no change may slip in meanwhile.
  if (type === "mutation") assertNoRestoreRunning(getConfig().backupPath);
  const actor: Actor = { id: ctx.user.id, username: ctx.user.username, ip: ctx.ip, userAgent: ctx.userAgent };
  return next({ ctx: { ...ctx, user: ctx.user, actor } });
});

/** Requires the admin role, read fresh from the database for this request. */
export const adminProcedure = protectedProcedure.use(({ ctx, next }) => {
  if (ctx.user.role !== "admin") {
    throw new TRPCError({ code: "FORBIDDEN", message: "Only administrators can do this." });
  }
  return next({ ctx });
});
