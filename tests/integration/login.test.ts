import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { auditLog } from "@/db/schema";
import { attemptLogin, LOGIN_FAILED_MESSAGE, LOGIN_THROTTLED_MESSAGE } from "@/server/auth/login";
import { LOGIN_LIMITS, LoginThrottle } from "@/server/rate-limit";
import { createTestApp, USER_PASSWORD, type TestApp } from "../helpers/test-app";

describe("attemptLogin", () => {
  let app: TestApp;
  let now: number;
  let throttle: LoginThrottle;
  beforeEach(() => {
    app = createTestApp();
    now = 1_700_000_000_000;
    throttle = new LoginThrottle(() => now);
  });
  afterEach(() => app.cleanup());

  const login = (username: string, password: string, ip = "192.0.2.1") =>
    attemptLogin(app.db, { username, password, ip, userAgent: "vitest" }, throttle);
  const loginAudit = () =>
    app.db
      .select()
      .from(auditLog)
      .all()
      .filter((row) => row.action === "auth.login");
  const failTimes = (times: number, username: string, ip = "192.0.2.1") => {
    for (let i = 0; i < times; i++) login(username, "wrong-password", ip);
  };

  it("signs in with the right password", () => {
    expect(login("alice", USER_PASSWORD)).toMatchObject({ ok: true, user: { username: "alice" } });
  });

  it("records a successful sign-in with the user, IP and user agent", () => {
    login("alice", USER_PASSWORD);
    expect(loginAudit()).toMatchObject([
      { actorId: app.user.id, actorName: "alice", ip: "192.0.2.1", userAgent: "vitest", success: true },
    ]);
  });

  it("records a failed sign-in without the password tried", () => {
    login("alice", "wrong-password");
    const rows = loginAudit();
    expect(rows).toMatchObject([{ actorId: null, actorName: "alice", success: false }]);
    expect(JSON.stringify(rows)).not.toContain("wrong-password");
  });

  it("gives the same answer for an unknown user and a wrong password", () => {
    const unknown = login("nobody", "wrong-password");
    const wrong = login("alice", "wrong-password");
    expect(unknown).toEqual({ ok: false, message: LOGIN_FAILED_MESSAGE });
    expect(wrong).toEqual(unknown);
  });

  it("refuses an empty password without checking it", () => {
    expect(login("alice", "")).toEqual({ ok: false, message: LOGIN_FAILED_MESSAGE });
  });

  it("refuses the right password after 5 failures for that username", () => {
    failTimes(LOGIN_LIMITS.perUsername.maxFailures, "alice");
    expect(login("alice", USER_PASSWORD)).toEqual({ ok: false, message: LOGIN_THROTTLED_MESSAGE });
  });

  it("still allows the 5th attempt after 4 failures", () => {
    failTimes(LOGIN_LIMITS.perUsername.maxFailures - 1, "alice");
    expect(login("alice", USER_PASSWORD).ok).toBe(true);
  });

  it("throttles a username whatever IPs the failures came from", () => {
    for (let i = 0; i < LOGIN_LIMITS.perUsername.maxFailures; i++) login("alice", "wrong-password", `198.51.100.${i}`);
    expect(login("alice", USER_PASSWORD, "203.0.113.9")).toEqual({ ok: false, message: LOGIN_THROTTLED_MESSAGE });
  });

  it("throttles one IP trying many usernames", () => {
    for (let i = 0; i < LOGIN_LIMITS.perIp.maxFailures; i++) login(`user${i}`, "wrong-password", "192.0.2.66");
    expect(login("alice", USER_PASSWORD, "192.0.2.66")).toEqual({ ok: false, message: LOGIN_THROTTLED_MESSAGE });
  });

  it("does not throttle another IP because one IP sprayed", () => {
    for (let i = 0; i < LOGIN_LIMITS.perIp.maxFailures; i++) login(`user${i}`, "wrong-password", "192.0.2.66");
    expect(login("alice", USER_PASSWORD, "192.0.2.77").ok).toBe(true);
  });

  it("records a throttled attempt as rate limited", () => {
    failTimes(LOGIN_LIMITS.perUsername.maxFailures, "alice");
    login("alice", USER_PASSWORD);
    expect(loginAudit().at(-1)).toMatchObject({ success: false, errorMessage: "rate limited" });
  });

  it("resets the username's count after a successful sign-in", () => {
    failTimes(LOGIN_LIMITS.perUsername.maxFailures - 1, "alice");
    login("alice", USER_PASSWORD);
    failTimes(LOGIN_LIMITS.perUsername.maxFailures - 1, "alice");
    expect(login("alice", USER_PASSWORD).ok).toBe(true);
  });

  it("lets the user in again once the window has passed", () => {
    failTimes(LOGIN_LIMITS.perUsername.maxFailures, "alice");
    now += LOGIN_LIMITS.perUsername.windowMs + 1;
    expect(login("alice", USER_PASSWORD).ok).toBe(true);
  });

  it("keeps the user out until the window has passed", () => {
    failTimes(LOGIN_LIMITS.perUsername.maxFailures, "alice");
    now += LOGIN_LIMITS.perUsername.windowMs - 1;
    expect(login("alice", USER_PASSWORD).ok).toBe(false);
  });
});
