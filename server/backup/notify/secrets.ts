/**
 * Channel secrets (a webhook's signing secret, an SMTP password) live in files beside the
 * auth secret (config.secretsPath, data/secrets by default), one per channel, mode 0600,
 * written atomically. Never in the database: the database goes into every backup, and a
 * downloaded backup must not carry the keys to the admin's mail account. The row's
 * `hasSecret` says whether a file should exist; nothing here ever logs a value.
 *
 * Channel ids come from an AUTOINCREMENT key, so a removed channel's id (and file name) is
 * never handed to a new channel.
 */
import fs from "node:fs";
import path from "node:path";
import type { AppConfig } from "../../config";
import { AppError } from "../../errors";
import { fsyncDir, writeFileAtomic } from "../fs-safe";

export function channelSecretPath(config: AppConfig, channelId: number): string {
  return path.join(config.secretsPath, `notify-channel-${channelId}`);
}

export async function writeChannelSecret(config: AppConfig, channelId: number, secret: string): Promise<void> {
  await fs.promises.mkdir(config.secretsPath, { recursive: true, mode: 0o700 });
  await writeFileAtomic(channelSecretPath(config, channelId), secret);
}

/** The secret of a channel whose row says it has one; a missing file is an error the admin can fix. */
export async function readChannelSecret(config: AppConfig, channelId: number): Promise<string> {
  try {
    return await fs.promises.readFile(channelSecretPath(config, channelId), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    throw new AppError(
      "CONFLICT",
      `The saved secret of notification channel ${channelId} is missing from ${config.secretsPath} ` +
        "(the data folder was moved without its secrets folder?). Edit the channel and enter the secret again.",
    );
  }
}

export async function removeChannelSecret(config: AppConfig, channelId: number): Promise<void> {
  await fs.promises.rm(channelSecretPath(config, channelId), { force: true });
  await fsyncDir(config.secretsPath).catch(() => undefined);
}
