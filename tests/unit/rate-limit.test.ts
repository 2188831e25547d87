import { describe, expect, it } from "vitest";
import { FailureCounter, LOGIN_LIMITS, LoginThrottle } from "@/server/rate-limit";

function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe("FailureCounter", () => {
  it("blocks a key once it reaches the failure limit", () => {
    const counter = new FailureCounter({ maxFailures: 3, windowMs: 60_000 });
    counter.recordFailure("k");
    counter.recordFailure("k");
    expect(counter.isBlocked("k")).toBe(false);
    counter.recordFailure("k");
    expect(counter.isBlocked("k")).toBe(true);
  });

  it("counts each key separately", () => {
    const counter = new FailureCounter({ maxFailures: 1, windowMs: 60_000 });
    counter.recordFailure("a");
    expect(counter.isBlocked("b")).toBe(false);
  });

  it("forgets failures older than the window", () => {
    const clock = fakeClock();
    const counter = new FailureCounter({ maxFailures: 2, windowMs: 60_000 }, clock.now);
    counter.recordFailure("k");
    clock.advance(30_000);
    counter.recordFailure("k");
    expect(counter.isBlocked("k")).toBe(true);
    clock.advance(30_001);
    expect(counter.isBlocked("k")).toBe(false);
  });

  it("unblocks a key on reset", () => {
    const counter = new FailureCounter({ maxFailures: 1, windowMs: 60_000 });
    counter.recordFailure("k");
    counter.reset("k");
    expect(counter.isBlocked("k")).toBe(false);
  });
});

describe("LoginThrottle", () => {
  it("counts usernames case-insensitively", () => {
    const throttle = new LoginThrottle();
    for (let i = 0; i < LOGIN_LIMITS.perUsername.maxFailures; i++) throttle.recordFailure("Admin", `10.0.0.${i}`);
    expect(throttle.isBlocked("admin", "10.9.9.9")).toBe(true);
  });

  it("keeps the IP count after a success, so a spraying client stays slowed", () => {
    const throttle = new LoginThrottle();
    for (let i = 0; i < LOGIN_LIMITS.perIp.maxFailures; i++) throttle.recordFailure(`user${i}`, "10.0.0.1");
    throttle.recordSuccess("user0");
    expect(throttle.isBlocked("someone-else", "10.0.0.1")).toBe(true);
  });
});
