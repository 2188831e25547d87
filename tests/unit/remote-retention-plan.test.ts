/** The target's own retention as a pure rule: count, age, the newest always, the chain, and objects that are not ours. */
import { describe, expect, it } from "vitest";
import { remoteRetentionPlan, type RemoteBackup } from "@/server/backup/targets/remote";

const now = new Date("2026-06-30T12:00:00Z");
const day = 86_400_000;

function entry(filename: string, ageDays: number, parent: string | null = null, ours = true): RemoteBackup {
  return {
    filename,
    key: `p/${filename}`,
    size_bytes: 1,
    last_modified: null,
    sha256: ours ? "a".repeat(64) : null,
    backup_type: ours ? (parent ? "incremental" : "full") : null,
    parent,
    created_at: ours ? new Date(now.getTime() - ageDays * day).toISOString() : null,
    has_manifest: ours,
    local_backup_id: null,
  };
}

const names = (list: RemoteBackup[]) => list.map((e) => e.filename).sort();

describe("remote retention", () => {
  it("removes nothing without a rule", () => {
    const all = [entry("a", 100), entry("b", 1)];
    expect(remoteRetentionPlan(all, { keepCount: null, keepDays: null }, now).remove).toEqual([]);
  });

  it("keeps the newest N and those younger than N days, both rules together", () => {
    const all = [entry("d1", 1), entry("d5", 5), entry("d20", 20), entry("d40", 40)];
    expect(names(remoteRetentionPlan(all, { keepCount: 3, keepDays: 10 }, now).remove)).toEqual(["d20", "d40"]);
    expect(names(remoteRetentionPlan(all, { keepCount: 2, keepDays: null }, now).remove)).toEqual(["d20", "d40"]);
    expect(names(remoteRetentionPlan(all, { keepCount: null, keepDays: 30 }, now).remove)).toEqual(["d40"]);
  });

  it("always keeps the newest, even when it is older than the age limit", () => {
    const all = [entry("old", 50), entry("older", 60)];
    expect(names(remoteRetentionPlan(all, { keepCount: null, keepDays: 7 }, now).keep)).toEqual(["old"]);
  });

  it("keeps every archive a kept incremental builds on, transitively", () => {
    const all = [entry("full", 30), entry("inc1", 20, "full"), entry("inc2", 10, "inc1"), entry("other-full", 40)];
    const plan = remoteRetentionPlan(all, { keepCount: 1, keepDays: null }, now);
    expect(names(plan.keep)).toEqual(["full", "inc1", "inc2"]);
    expect(names(plan.remove)).toEqual(["other-full"]);
  });

  it("never removes an object BaluHost did not put there", () => {
    const all = [entry("mine", 1), entry("foreign", 0, null, false), entry("mine-old", 90)];
    const plan = remoteRetentionPlan(all, { keepCount: 1, keepDays: null }, now);
    expect(names(plan.remove)).toEqual(["mine-old"]);
    expect(names(plan.keep)).toEqual(["foreign", "mine"]);
  });
});
