/**
 * The signed-in area: top bar with the navigation (admin entries for admins only), the
 * current user and Sign out. The layout shows who is signed in; it does not guard the
 * pages (Next renders pages in parallel with their layout): each page calls requireUser()
 * or requireAdmin() itself.
 *
 * No loading.tsx here on purpose: a Suspense boundary above the pages starts the response
 * before they run, and their redirect() to the login form would then be a client-side one
 * (status 200) instead of a 307.
 */
import Link from "next/link";
import { Suspense, type ReactNode } from "react";
import { Badge } from "@/app/_components/badge";
import { AuditIcon, HomeIcon, KeyIcon, SettingsIcon } from "@/app/_components/icons";
import { Logo } from "@/app/_components/logo";
import { getCurrentUser } from "@/server/api/server-caller";
import { AppNav, type NavItem } from "./_components/app-nav";
import { SignInRedirect } from "./_components/sign-in-redirect";
import { SignOutButton } from "./_components/sign-out-button";

export default async function AppLayout({ children }: { children: ReactNode }) {
  const user = await getCurrentUser();
  if (!user) {
    // The page's own guard answers with a 307 to the login form (it knows its path). Only
    // if a page lacks one does it render here, and the client redirect takes over.
    return (
      <>
        {children}
        <Suspense>
          <SignInRedirect />
        </Suspense>
      </>
    );
  }
  const isAdmin = user.role === "admin";
  const items: NavItem[] = [
    { href: "/", label: "Home", icon: <HomeIcon /> },
    { href: "/settings", label: "Settings", icon: <SettingsIcon /> },
    ...(isAdmin
      ? [
          { href: "/admin/audit", label: "Audit log", icon: <AuditIcon /> },
          { href: "/admin/tokens", label: "API tokens", icon: <KeyIcon /> },
        ]
      : []),
  ];
  return (
    <div className="app">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <div className="topbar-inner container">
          <Link href="/" className="brand" aria-label="BaluHost home">
            <Logo />
          </Link>
          <AppNav items={items} />
          <div className="account">
            <div className="account-who" aria-label={`Signed in as ${user.username} (${user.role})`} role="group">
              <span className="avatar" aria-hidden="true">
                {user.username.slice(0, 1)}
              </span>
              <span className="account-name" data-testid="current-username">
                {user.username}
              </span>
              <Badge tone={isAdmin ? "accent" : "neutral"}>{isAdmin ? "Admin" : "User"}</Badge>
            </div>
            <SignOutButton />
          </div>
        </div>
      </header>
      <main id="main" className="main container" tabIndex={-1}>
        {children}
      </main>
      <footer className="footer">
        <div className="container">BaluHost · self-hosted NAS manager</div>
      </footer>
    </div>
  );
}
