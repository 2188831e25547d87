"use client";
/**
 * The signed-in area's fallback when there is no session: sends the browser to the login
 * page with the current address as the way back. Pages normally redirect on the server
 * first (requireUser); this covers any page that does not, without showing its content.
 */
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useEffect } from "react";
import { loginUrl } from "@/app/_lib/callback-url";
import { Spinner } from "@/app/_components/spinner";

export function SignInRedirect() {
  const router = useRouter();
  const pathname = usePathname() ?? "/";
  const search = useSearchParams()?.toString();
  const target = loginUrl(search ? `${pathname}?${search}` : pathname);
  useEffect(() => {
    router.replace(target);
  }, [router, target]);
  return (
    <div className="centered-page">
      <p className="loading-block" role="status">
        <Spinner /> Taking you to the <a href={target}>sign-in page</a>…
      </p>
    </div>
  );
}
