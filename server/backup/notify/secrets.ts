/**
 * Channel secrets (a webhook's signing secret, an SMTP password): one secret file per
 * channel (../secret-files.ts: data/secrets, mode 0600, atomic, never in the database or a
 * backup). The row's `hasSecret` says whether a file should exist.
 *
 * Channel ids come from an AUTOINCREMENT key, so a removed channel's id (and file name) is
 * never handed to a new channel.
 */
import type { AppConfig } from "../../config";
import { AppError } from "../../errors";
import { readSecretFile, removeSecretFile, secretFilePath, writeSecretFile } from "../secret-files";

const fileName = (channelId: number) => `notify-channel-${channelId}`;

export function channelSecretPath(config: AppConfig, channelId: number): string {
  return secretFilePath(config, fileName(channelId));
}

export async function writeChannelSecret(config: AppConfig, channelId: number, secret: string): Promise<void> {
  await writeSecretFile(config, fileName(channelId), secret);
}

/** The secret of a channel whose row says it has one; a missing file is an error the admin can fix. */
export async function readChannelSecret(config: AppConfig, channelId: number): Promise<string> {
  const secret = await readSecretFile(config, fileName(channelId));
  if (secret !== null) return secret;
  throw new AppError(
    "CONFLICT",
    `The saved secret of notification channel ${channelId} is missing from ${config.secretsPath} ` +
      "(the data folder was moved without its secrets folder?). Edit the channel and enter the secret again.",
  );
}

export async function removeChannelSecret(config: AppConfig, channelId: number): Promise<void> {
  await removeSecretFile(config, fileName(channelId));
}
