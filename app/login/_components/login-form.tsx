"use client";
/**
 * The credentials form. next-auth's signIn runs without a redirect so errors stay on the
 * page: the server's message ("Invalid username or password." or the rate-limit notice)
 * is shown in a live region, and on success the browser goes to the page it came from.
 */
import { signIn } from "next-auth/react";
import { useRouter } from "next/navigation";
import { useRef, useState, type FormEvent } from "react";
import { Button } from "@/app/_components/button";
import { Callout } from "@/app/_components/callout";
import { TextField } from "@/app/_components/field";
import { safeCallbackPath } from "@/app/_lib/callback-url";

/** next-auth's own codes, for the rare case the server's message does not come through. */
const GENERIC_ERRORS: Record<string, string> = {
  CredentialsSignin: "Invalid username or password.",
  Configuration: "Sign-in is not available right now. Check the server log.",
};

export function LoginForm({ callbackPath }: { callbackPath: string }) {
  const router = useRouter();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);
  const passwordRef = useRef<HTMLInputElement>(null);

  const onSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!username.trim() || !password) {
      setError("Enter your username and password.");
      return;
    }
    setPending(true);
    setError(null);
    try {
      const result = await signIn("credentials", { redirect: false, username: username.trim(), password });
      if (!result || result.error || !result.ok) {
        const message = result?.error ? (GENERIC_ERRORS[result.error] ?? result.error) : null;
        setError(message ?? "Sign-in failed. Try again.");
        setPassword("");
        setPending(false);
        passwordRef.current?.focus();
        return;
      }
      router.replace(safeCallbackPath(callbackPath));
      router.refresh();
    } catch {
      setError("Could not reach the server. Check the connection and try again.");
      setPending(false);
    }
  };

  return (
    <form className="auth-form" onSubmit={onSubmit} noValidate>
      <TextField
        label="Username"
        name="username"
        autoComplete="username"
        autoCapitalize="none"
        autoCorrect="off"
        spellCheck={false}
        autoFocus
        required
        value={username}
        onChange={(e) => setUsername(e.target.value)}
        aria-invalid={error ? true : undefined}
      />
      <TextField
        ref={passwordRef}
        label="Password"
        name="password"
        type="password"
        autoComplete="current-password"
        required
        value={password}
        onChange={(e) => setPassword(e.target.value)}
        aria-invalid={error ? true : undefined}
      />
      <div className="live-region" aria-live="assertive" aria-atomic="true">
        {error ? (
          <Callout tone="danger" className="login-error">
            <span data-testid="login-error">{error}</span>
          </Callout>
        ) : null}
      </div>
      <Button type="submit" variant="primary" loading={pending}>
        {pending ? "Signing in…" : "Sign in"}
      </Button>
    </form>
  );
}
