"use client";
/** Signs out through next-auth and lands on the login page. */
import { signOut } from "next-auth/react";
import { useState } from "react";
import { Button } from "@/app/_components/button";
import { LogOutIcon } from "@/app/_components/icons";

export function SignOutButton() {
  const [pending, setPending] = useState(false);
  return (
    <Button
      variant="ghost"
      size="sm"
      icon={<LogOutIcon size={14} />}
      loading={pending}
      aria-label="Sign out"
      onClick={() => {
        setPending(true);
        void signOut({ callbackUrl: "/login" }).catch(() => setPending(false));
      }}
    >
      <span className="sign-out-label">Sign out</span>
    </Button>
  );
}
