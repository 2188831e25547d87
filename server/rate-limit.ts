/**
 * Login throttling: failed attempts are counted per username and per client IP in a
 * sliding window. Per-username limits stop guessing one account's password; per-IP limits
 * stop one client spraying many accounts. State is in memory: one NAS runs one server
 * process, and a restart forgetting the counters is harmless.
 */
export interface RateLimitRule {
  maxFailures: number;
  windowMs: number;
}

export const LOGIN_LIMITS = {
  perUsername: { maxFailures: 5, windowMs: 15 * 60_000 },
  perIp: { maxFailures: 20, windowMs: 15 * 60_000 },
} satisfies Record<string, RateLimitRule>;

export class FailureCounter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly rule: RateLimitRule,
    private readonly now: () => number = Date.now,
  ) {}

  private recent(key: string): number[] {
    const cutoff = this.now() - this.rule.windowMs;
    const kept = (this.failures.get(key) ?? []).filter((t) => t > cutoff);
    if (kept.length) this.failures.set(key, kept);
    else this.failures.delete(key);
    return kept;
  }

  isBlocked(key: string): boolean {
    return this.recent(key).length >= this.rule.maxFailures;
  }

  recordFailure(key: string): void {
    const kept = this.recent(key);
    kept.push(this.now());
    this.failures.set(key, kept);
    // Keys are only pruned when looked at again; a spray of distinct usernames or IPs
    // must not grow the map without bound, so sweep expired keys once it gets large.
    if (this.failures.size > 10_000) for (const other of [...this.failures.keys()]) this.recent(other);
  }

  reset(key: string): void {
    this.failures.delete(key);
  }
}

export class LoginThrottle {
  readonly byUsername: FailureCounter;
  readonly byIp: FailureCounter;

  constructor(now: () => number = Date.now, limits = LOGIN_LIMITS) {
    this.byUsername = new FailureCounter(limits.perUsername, now);
    this.byIp = new FailureCounter(limits.perIp, now);
  }

  isBlocked(username: string, ip: string): boolean {
    return this.byUsername.isBlocked(username.toLowerCase()) || this.byIp.isBlocked(ip);
  }

  recordFailure(username: string, ip: string): void {
    this.byUsername.recordFailure(username.toLowerCase());
    this.byIp.recordFailure(ip);
  }

  /** A successful login clears its username's count, not the IP's (a spraying client stays slowed). */
  recordSuccess(username: string): void {
    this.byUsername.reset(username.toLowerCase());
  }
}

const holder = globalThis as unknown as { __baluhostLoginThrottle?: LoginThrottle };
export function getLoginThrottle(): LoginThrottle {
  holder.__baluhostLoginThrottle ??= new LoginThrottle();
  return holder.__baluhostLoginThrottle;
}
