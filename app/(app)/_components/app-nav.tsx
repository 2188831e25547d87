"use client";
/** The main navigation: links with the current section marked (aria-current). */
import Link from "next/link";
import { usePathname } from "next/navigation";
import type { ReactNode } from "react";

export interface NavItem {
  href: string;
  label: string;
  icon: ReactNode;
}

/** "/" matches only itself; any other link also matches the pages under it. */
export function isActivePath(pathname: string, href: string): boolean {
  if (href === "/") return pathname === "/";
  return pathname === href || pathname.startsWith(`${href}/`);
}

/** A link that marks itself as the current page when the address is at or under it. */
function ActiveLink({ item, className }: { item: NavItem; className: string }) {
  const pathname = usePathname() ?? "/";
  return (
    <Link href={item.href} className={className} aria-current={isActivePath(pathname, item.href) ? "page" : undefined}>
      {item.icon}
      {item.label}
    </Link>
  );
}

export function AppNav({ items }: { items: NavItem[] }) {
  return (
    <nav className="nav" aria-label="Main">
      <ul className="nav-list">
        {items.map((item) => (
          <li key={item.href}>
            <ActiveLink item={item} className="nav-link" />
          </li>
        ))}
      </ul>
    </nav>
  );
}

/** Tabs as links to real routes (e.g. Settings → General / Backup). */
export function RouteTabs({ label, items }: { label: string; items: NavItem[] }) {
  return (
    <nav className="tabs" aria-label={label}>
      {items.map((item) => (
        <ActiveLink key={item.href} item={item} className="tab" />
      ))}
    </nav>
  );
}
