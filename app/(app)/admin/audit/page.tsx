/** Admin → Audit log. The first page is fetched on the server and handed to the list. */
import type { Metadata } from "next";
import { AdminsOnly } from "@/app/_components/admins-only";
import { PageHeader } from "@/app/_components/layout-parts";
import { requireAdmin } from "@/app/_lib/session";
import { api, HydrateClient } from "@/server/api/server-caller";
import { auditFiltersToSearch, auditListInput, parseAuditFilters } from "./_components/audit-filters";
import { AuditLog } from "./_components/audit-log";

export const metadata: Metadata = { title: "Audit log" };

export default async function AuditPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const filters = parseAuditFilters(await searchParams);
  // The way back after signing in keeps the filters of a shared link.
  const admin = await requireAdmin(`/admin/audit${auditFiltersToSearch(filters)}`);
  if (!admin) return <AdminsOnly />;
  await api.audit.list.prefetchInfinite(auditListInput(filters));
  return (
    <>
      <PageHeader
        eyebrow="Administration"
        title="Audit log"
        description="Every sign-in, token change and backup operation, with who did it, from where, and whether it worked."
      />
      <HydrateClient>
        <AuditLog initialFilters={filters} />
      </HydrateClient>
    </>
  );
}
