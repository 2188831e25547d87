/**
 * Crash points for the kill -9 tests: a test runs a restore or backup in a child process
 * with BALUHOST_CRASH_AT=<name>, and the process kills itself (SIGKILL, no clean-up) when
 * it reaches that point. Without the variable this is a no-op.
 */
export function crashPoint(name: string): void {
  if (process.env.BALUHOST_CRASH_AT === name) process.kill(process.pid, "SIGKILL");
}
