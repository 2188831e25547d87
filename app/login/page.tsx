/** The sign-in page. Already signed in: straight to the home page. */
import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { Logo } from "@/app/_components/logo";
import { safeCallbackPath } from "@/app/_lib/callback-url";
import { getCurrentUser } from "@/server/api/server-caller";
import { LoginForm } from "./_components/login-form";

export const metadata: Metadata = { title: "Sign in" };

export default async function LoginPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  if (await getCurrentUser()) redirect("/");
  const callbackPath = safeCallbackPath((await searchParams).callbackUrl);
  return (
    <main className="centered-page">
      <div className="auth-card">
        <div className="auth-header">
          <Logo size={40} />
          <h1 className="auth-title">Sign in</h1>
          <p className="auth-subtitle">Sign in to manage this NAS.</p>
        </div>
        <LoginForm callbackPath={callbackPath} />
      </div>
      <div className="auth-footnote">
        <span>Forgot the admin password? On the server, run</span>
        <code>npm run -s cli -- user reset-password admin</code>
      </div>
    </main>
  );
}
