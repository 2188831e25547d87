/** Admin → API tokens. The list is fetched on the server and handed to the manager. */
import type { Metadata } from "next";
import { AdminsOnly } from "@/app/_components/admins-only";
import { PageHeader } from "@/app/_components/layout-parts";
import { requireAdmin } from "@/app/_lib/session";
import { api, HydrateClient } from "@/server/api/server-caller";
import { TokenManager } from "./_components/token-manager";

export const metadata: Metadata = { title: "API tokens" };

export default async function TokensPage() {
  const admin = await requireAdmin("/admin/tokens");
  if (!admin) return <AdminsOnly />;
  await api.tokens.list.prefetch();
  return (
    <>
      <PageHeader
        eyebrow="Administration"
        title="API tokens"
        description="Tokens let scripts and other machines use the BaluHost API (for example to start a backup from cron) without a password. A token acts with the rights of the admin who created it."
      />
      <HydrateClient>
        <TokenManager />
      </HydrateClient>
    </>
  );
}
