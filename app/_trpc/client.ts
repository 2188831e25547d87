/**
 * The tRPC React client. Import it in client components only:
 *
 *   import { trpc } from "@/app/_trpc/client";
 *   const list = trpc.tokens.list.useQuery();
 *   const utils = trpc.useUtils();
 *   const create = trpc.tokens.create.useMutation({ onSuccess: () => utils.tokens.list.invalidate() });
 *
 * The provider (app/_trpc/provider.tsx) is mounted in the root layout. Server components
 * do not use this: they call procedures through server/api/server-caller.ts.
 */
import { createTRPCReact } from "@trpc/react-query";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";

export const trpc = createTRPCReact<AppRouter>();

/** Input types of every procedure: `RouterInputs["audit"]["list"]`. */
export type RouterInputs = inferRouterInputs<AppRouter>;
/** Output types of every procedure: `RouterOutputs["tokens"]["list"][number]`. */
export type RouterOutputs = inferRouterOutputs<AppRouter>;
