/**
 * Page guards for server components. Every page in the signed-in area calls one of these
 * itself: a layout cannot guard its pages (they render in parallel with it and are not
 * re-rendered with it on navigation), and the page knows its own path for the way back.
 *
 *   const user = await requireUser("/settings/general");   // redirects when signed out
 *   const admin = await requireAdmin("/admin/audit");       // null for a non-admin:
 *   if (!admin) return <AdminsOnly />;
 */
import "server-only";
import { redirect } from "next/navigation";
import type { RequestUser } from "@/server/auth/request";
import { getCurrentUser } from "@/server/api/server-caller";
import { loginUrl } from "./callback-url";

/** The signed-in user; a visitor who is signed out goes to the login page, and back to `path` after. */
export async function requireUser(path: string): Promise<RequestUser> {
  const user = await getCurrentUser();
  if (!user) redirect(loginUrl(path));
  return user;
}

/** The signed-in admin, or null for a signed-in non-admin (render <AdminsOnly /> then). */
export async function requireAdmin(path: string): Promise<RequestUser | null> {
  const user = await requireUser(path);
  return user.role === "admin" ? user : null;
}
