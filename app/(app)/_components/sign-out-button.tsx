"use client";
/**
 * Signs out through next-auth and lands on the login page. The redirect is ours, not
 * next-auth's: without NEXTAUTH_URL, next-auth builds absolute URLs on
 * http://localhost:3000, which is wrong for a NAS reached by its LAN address or port.
 */
import { signOut } from "next-auth/react";
import { useState } from "react";
import { Button } from "@/app/_components/button";
import { LogOutIcon } from "@/app/_components/icons";
import { toast } from "@/app/_components/toaster";

export function SignOutButton() {
  const [pending, setPending] = useState(false);
  return (
    <Button
      variant="ghost"
      size="sm"
      icon={<LogOutIcon size={14} />}
      loading={pending}
      aria-label="Sign out"
      onClick={async () => {
        setPending(true);
        try {
          await signOut({ redirect: false, callbackUrl: "/login" });
          // A full load, so no page of the signed-in area stays in the router cache.
          window.location.assign("/login");
        } catch {
          setPending(false);
          toast.error("Could not sign out", { description: "Check the connection and try again." });
        }
      }}
    >
      <span className="sign-out-label">Sign out</span>
    </Button>
  );
}
