/**
 * Secrets the app must keep but never put in the database (the database goes into every
 * backup, and a downloaded backup must not carry the keys to the admin's mail account or
 * offsite bucket): one file per secret under config.secretsPath (data/secrets by default,
 * beside auth-secret), folder 0700, file 0600, written atomically. Nothing here ever logs
 * a value. Names are fixed by the callers (`notify-channel-7`, `offsite-target-3`), never
 * taken from a request.
 */
import fs from "node:fs";
import path from "node:path";
import type { AppConfig } from "../config";
import { fsyncDir, writeFileAtomic } from "./fs-safe";

const SECRET_NAME = /^[a-z][a-z0-9-]*$/;

export function secretFilePath(config: AppConfig, name: string): string {
  if (!SECRET_NAME.test(name)) throw new Error(`Refusing the secret file name "${name}".`);
  return path.join(config.secretsPath, name);
}

export async function writeSecretFile(config: AppConfig, name: string, value: string): Promise<void> {
  await fs.promises.mkdir(config.secretsPath, { recursive: true, mode: 0o700 });
  await writeFileAtomic(secretFilePath(config, name), value);
}

/** The secret's text, or null when its file does not exist (the caller says what that means). */
export async function readSecretFile(config: AppConfig, name: string): Promise<string | null> {
  try {
    return await fs.promises.readFile(secretFilePath(config, name), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

export async function removeSecretFile(config: AppConfig, name: string): Promise<void> {
  await fs.promises.rm(secretFilePath(config, name), { force: true });
  await fsyncDir(config.secretsPath).catch(() => undefined);
}
