/** Settings: one heading and a tab per area, each tab a real route. Backup is for admins. */
import type { ReactNode } from "react";
import { ArchiveIcon, SettingsIcon } from "@/app/_components/icons";
import { PageHeader } from "@/app/_components/layout-parts";
import { getCurrentUser } from "@/server/api/server-caller";
import { RouteTabs, type NavItem } from "../_components/app-nav";

export default async function SettingsLayout({ children }: { children: ReactNode }) {
  const user = await getCurrentUser();
  // Signed out: the page itself redirects to the login form; render nothing of our own.
  if (!user) return <>{children}</>;
  const tabs: NavItem[] = [
    { href: "/settings/general", label: "General", icon: <SettingsIcon size={14} /> },
    ...(user.role === "admin"
      ? [{ href: "/settings/backup", label: "Backup", icon: <ArchiveIcon size={14} /> }]
      : []),
  ];
  return (
    <>
      <PageHeader title="Settings" description="How this BaluHost is set up." />
      <RouteTabs label="Settings sections" items={tabs} />
      {children}
    </>
  );
}
