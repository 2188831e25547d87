/** The app's tRPC router: one sub-router per area. */
import { accountRouter } from "./routers/account";
import { auditRouter } from "./routers/audit";
import { backupRouter } from "./routers/backup";
import { browseRouter } from "./routers/browse";
import { drillRouter } from "./routers/drill";
import { encryptionRouter } from "./routers/encryption";
import { scheduleRouter } from "./routers/schedule";
import { notifyRouter } from "./routers/notify";
import { offsiteRouter } from "./routers/offsite";
import { tokensRouter } from "./routers/tokens";
import { createCallerFactory, createTRPCRouter } from "./trpc";

export const appRouter = createTRPCRouter({
  account: accountRouter,
  tokens: tokensRouter,
  audit: auditRouter,
  backup: backupRouter,
  browse: browseRouter,
  drill: drillRouter,
  schedule: scheduleRouter,
  notify: notifyRouter,
  offsite: offsiteRouter,
  encryption: encryptionRouter,
});

export type AppRouter = typeof appRouter;

/** Calls the router in-process (server components, tests): `createCaller(createInnerContext(...))`. */
export const createCaller = createCallerFactory(appRouter);
