/**
 * The login check behind the credentials form. Unknown user and wrong password give the
 * same answer (and take the same time); repeated failures are throttled per username and
 * per IP; every attempt is audited.
 */
import type { AppDatabase } from "@/db/client";
import type { User } from "@/db/schema";
import { recordAudit } from "../audit";
import { getLoginThrottle, type LoginThrottle } from "../rate-limit";
import { checkCredentials } from "../users";

export const LOGIN_FAILED_MESSAGE = "Invalid username or password.";
export const LOGIN_THROTTLED_MESSAGE = "Too many failed sign-in attempts. Wait 15 minutes and try again.";

export type LoginResult = { ok: true; user: User } | { ok: false; message: string };

export function attemptLogin(
  db: AppDatabase,
  input: { username: string; password: string; ip: string; userAgent?: string | null },
  throttle: LoginThrottle = getLoginThrottle(),
): LoginResult {
  const username = input.username.trim().slice(0, 64);
  const actor = { id: null, username: username || "(empty)", ip: input.ip, userAgent: input.userAgent };
  if (throttle.isBlocked(username, input.ip)) {
    recordAudit(db, { action: "auth.login", actor, success: false, errorMessage: "rate limited" });
    return { ok: false, message: LOGIN_THROTTLED_MESSAGE };
  }
  const user = username && input.password ? checkCredentials(db, username, input.password) : null;
  if (!user) {
    throttle.recordFailure(username, input.ip);
    recordAudit(db, { action: "auth.login", actor, success: false, errorMessage: "invalid credentials" });
    return { ok: false, message: LOGIN_FAILED_MESSAGE };
  }
  throttle.recordSuccess(username);
  recordAudit(db, { action: "auth.login", actor: { ...actor, id: user.id, username: user.username }, success: true });
  return { ok: true, user };
}
