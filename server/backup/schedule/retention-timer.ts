/**
 * The web server applies retention by itself: once shortly after start-up and then every
 * hour, so "keep backups for N days" holds even when no new backup is made. Only the web
 * server runs this timer (instrumentation.ts); the CLI never deletes backups except as
 * part of backup work. A run that finds another operation holding the lock skips; the
 * next one catches up.
 */
import { getDb } from "@/db/client";
import { getConfig } from "../../config";
import { applyRetentionNow } from "../retention";

const FIRST_RUN_MS = 60 * 1000;
const EVERY_MS = 60 * 60 * 1000;

const holder = globalThis as unknown as { __baluhostRetentionTimer?: NodeJS.Timeout };

async function runOnce(): Promise<void> {
  try {
    await applyRetentionNow({ db: getDb(), config: getConfig(), reason: "scheduled retention" });
  } catch (err) {
    console.error("[retention] scheduled run failed:", err);
  }
}

export function startRetentionTimer(): void {
  if (holder.__baluhostRetentionTimer) return;
  const first = setTimeout(() => {
    void runOnce();
    holder.__baluhostRetentionTimer = setInterval(() => void runOnce(), EVERY_MS);
    holder.__baluhostRetentionTimer.unref();
  }, FIRST_RUN_MS);
  first.unref();
  holder.__baluhostRetentionTimer = first;
}
