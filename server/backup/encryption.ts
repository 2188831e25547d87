/**
 * Encryption at rest, the app's side: which key new backups are encrypted to, which keys the
 * server may use to open them, and where each is kept. The format itself is in crypto/.
 *
 * What the server keeps (and nothing more):
 * - the mode ("off", "passphrase", "recipients") and the recipients' public keys (age1…), in
 *   the settings table: public, harmless in a backup;
 * - in passphrase mode, the passphrase in `<secrets>/backup-passphrase` (mode 0600, written
 *   atomically, outside NAS_BACKUP_PATH and never in an archive, the database or a log): scheduled
 *   backups need it, and verify, drills and restores use it without asking;
 * - never an identity (private key), unless the admin points BACKUP_ENCRYPTION_IDENTITY_FILE
 *   at one, for automatic full verification and drills in recipients mode.
 *
 * Environment (headless installs; a mode saved in Settings → Backup wins):
 * BACKUP_ENCRYPTION_RECIPIENTS ("age1…,age1…": recipients mode), BACKUP_ENCRYPTION_PASSPHRASE_FILE
 * (a file holding the passphrase: passphrase mode, the file stays where it is),
 * BACKUP_ENCRYPTION_IDENTITY_FILE (identities the server may use to decrypt).
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { eq, inArray } from "drizzle-orm";
import type { AppDatabase } from "@/db/client";
import { settings, type Backup, type BackupEncryption } from "@/db/schema";
import type { AppConfig } from "../config";
import { recordAudit, type Actor } from "../audit";
import { AppError, describeError } from "../errors";
import { AGE_CHUNK, describeLock, fdRead, generateIdentity, parseIdentityFile, parseRecipient, readAgeHeader, type AgeKeys, type AgeLock, type AgeTarget } from "./crypto";
import { fsyncDir, writeFileAtomic } from "./fs-safe";

export const ENCRYPTION_MODES = ["off", "passphrase", "recipients"] as const;
export type EncryptionMode = (typeof ENCRYPTION_MODES)[number];

const KEYS = { mode: "backup.encryption.mode", recipients: "backup.encryption.recipients", keyId: "backup.encryption.key_id" } as const;
/** Passphrases shorter than this are refused: scrypt slows guessing, it cannot save "1234". */
export const MIN_PASSPHRASE_LENGTH = 12;

export interface EncryptionSettings {
  mode: EncryptionMode;
  /** Public keys new backups are encrypted to (recipients mode). */
  recipients: string[];
  /** Whether the server holds the passphrase (secrets file or BACKUP_ENCRYPTION_PASSPHRASE_FILE). */
  passphraseKept: boolean;
  /** Whether the server may use an identity (BACKUP_ENCRYPTION_IDENTITY_FILE). */
  identityKept: boolean;
  source: "settings" | "environment" | "default";
  /**
   * Names the key in effect (a random id made whenever a key is set; for the environment, one
   * derived from the variables, not from the passphrase); null when encryption is off.
   */
  keyId: string | null;
}

export function passphrasePath(config: AppConfig): string {
  return path.join(config.secretsPath, "backup-passphrase");
}

function saved(db: AppDatabase, key: string): string | null {
  return db.select().from(settings).where(eq(settings.key, key)).get()?.value ?? null;
}

function envRecipients(env: NodeJS.ProcessEnv): string[] {
  const list = (env.BACKUP_ENCRYPTION_RECIPIENTS ?? "").split(/[\s,]+/).filter(Boolean);
  for (const r of list) {
    if (!parseRecipient(r)) throw new AppError("BAD_REQUEST", `BACKUP_ENCRYPTION_RECIPIENTS: "${r.slice(0, 16)}…" is not an age public key (age1…).`);
  }
  return list;
}

export function getEncryptionSettings(db: AppDatabase, config: AppConfig, env: NodeJS.ProcessEnv = process.env): EncryptionSettings {
  const identityKept = Boolean(env.BACKUP_ENCRYPTION_IDENTITY_FILE);
  const passphraseKept = fs.existsSync(passphrasePath(config)) || Boolean(env.BACKUP_ENCRYPTION_PASSPHRASE_FILE);
  const mode = saved(db, KEYS.mode) as EncryptionMode | null;
  if (mode && (ENCRYPTION_MODES as readonly string[]).includes(mode)) {
    const recipients = JSON.parse(saved(db, KEYS.recipients) ?? "[]") as string[];
    const keyId = mode === "off" ? null : (saved(db, KEYS.keyId) ?? "settings");
    return { mode, recipients, passphraseKept, identityKept, source: "settings", keyId };
  }
  const recipients = envRecipients(env);
  if (recipients.length > 0) {
    const keyId = `env-${crypto.createHash("sha256").update(recipients.join(",")).digest("hex").slice(0, 16)}`;
    return { mode: "recipients", recipients, passphraseKept, identityKept, source: "environment", keyId };
  }
  if (env.BACKUP_ENCRYPTION_PASSPHRASE_FILE) {
    return { mode: "passphrase", recipients: [], passphraseKept, identityKept, source: "environment", keyId: "env-passphrase" };
  }
  return { mode: "off", recipients: [], passphraseKept, identityKept, source: "default", keyId: null };
}

/** The passphrase the server keeps, or null. */
export async function keptPassphrase(config: AppConfig, env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  for (const file of [passphrasePath(config), env.BACKUP_ENCRYPTION_PASSPHRASE_FILE]) {
    if (!file) continue;
    try {
      const text = (await fs.promises.readFile(file, "utf8")).replace(/\r?\n$/, "");
      if (text) return text;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  return null;
}

/**
 * Who a new backup is encrypted to; null when encryption is off. Passphrase mode without a
 * kept passphrase cannot make a backup (nobody is there to type it): refused before anything
 * is written.
 */
export async function encryptionTarget(
  db: AppDatabase,
  config: AppConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<(AgeTarget & { keyId: string }) | null> {
  const s = getEncryptionSettings(db, config, env);
  if (s.mode === "off") return null;
  const keyId = s.keyId ?? "settings";
  if (s.mode === "recipients") return { recipients: s.recipients, keyId };
  const passphrase = await keptPassphrase(config, env);
  if (!passphrase) {
    throw new AppError(
      "CONFLICT",
      `Backups are to be encrypted with a passphrase, but the server does not have it (${passphrasePath(config)} is missing). ` +
        "Enter the passphrase again in Settings → Backup → Encryption, or switch to public keys.",
    );
  }
  return { passphrase, keyId };
}

/**
 * The keys to try on an archive: those the admin gave for this operation, then what the
 * server keeps (the passphrase; identities from BACKUP_ENCRYPTION_IDENTITY_FILE).
 */
export async function archiveKeys(config: AppConfig, given?: AgeKeys, env: NodeJS.ProcessEnv = process.env): Promise<AgeKeys> {
  const passphrases = [...(given?.passphrases ?? [])];
  const identities = [...(given?.identities ?? [])];
  const kept = await keptPassphrase(config, env);
  if (kept && !passphrases.includes(kept)) passphrases.push(kept);
  if (env.BACKUP_ENCRYPTION_IDENTITY_FILE) {
    try {
      identities.push(...parseIdentityFile(await fs.promises.readFile(env.BACKUP_ENCRYPTION_IDENTITY_FILE, "utf8")));
    } catch (err) {
      console.error(`[encryption] BACKUP_ENCRYPTION_IDENTITY_FILE cannot be used: ${(err as Error).message}`);
    }
  }
  return { passphrases, identities };
}

/** The row's encryption columns for an archive written to `target`. */
export function encryptionColumns(target: (AgeTarget & { keyId: string }) | null): {
  encryption: BackupEncryption | null;
  encryptionRecipients: string[] | null;
  encryptionKeyId: string | null;
} {
  if (!target) return { encryption: null, encryptionRecipients: null, encryptionKeyId: null };
  return "passphrase" in target
    ? { encryption: "passphrase", encryptionRecipients: null, encryptionKeyId: target.keyId }
    : { encryption: "recipients", encryptionRecipients: target.recipients, encryptionKeyId: target.keyId };
}

/** How a file is encrypted (from its age header), or null for a file that is not age. Throws AgeError on a damaged header. */
export async function archiveLock(file: string): Promise<AgeLock | null> {
  const fh = await fs.promises.open(file, "r");
  try {
    const header = await readAgeHeader(fdRead(fh.fd), (await fh.stat()).size);
    return header ? describeLock(header) : null;
  } finally {
    await fh.close();
  }
}

/**
 * What can be checked of an encrypted archive without its key: a valid age header, a payload
 * whose length is one age can have, the size and (when recorded) the SHA-256 the archive had
 * when it was made. Throws ARCHIVE_INVALID naming what is wrong.
 */
export async function checkEncryptedStructure(file: string, row: Pick<Backup, "filename" | "sizeBytes" | "sha256">): Promise<void> {
  const fail = (what: string): never => {
    throw new AppError("ARCHIVE_INVALID", `The encrypted archive ${row.filename} is damaged: ${what}. (Checked without its key: header, size and checksum only.)`);
  };
  const fh = await fs.promises.open(file, "r");
  try {
    const size = (await fh.stat()).size;
    let header;
    try {
      header = await readAgeHeader(fdRead(fh.fd), size);
      if (header) describeLock(header);
    } catch (err) {
      return fail((err as Error).message);
    }
    if (!header) return fail("it does not start with an age header");
    const sealed = size - header.length - 16;
    const last = sealed - Math.max(0, Math.ceil(sealed / (AGE_CHUNK + 16)) - 1) * (AGE_CHUNK + 16);
    if (sealed < 16 || last < 16) fail("its encrypted payload is cut short");
    if (row.sizeBytes > 0 && size !== row.sizeBytes) fail(`it has ${size} bytes, ${row.sizeBytes} when it was made`);
    if (row.sha256) {
      const hash = crypto.createHash("sha256");
      for await (const chunk of fh.createReadStream({ highWaterMark: 1 << 20, autoClose: false, start: 0 })) hash.update(chunk as Buffer);
      if (hash.digest("hex") !== row.sha256) fail("its SHA-256 differs from the one recorded when it was made");
    }
  } finally {
    await fh.close();
  }
}

/** The keys a request gave (passphrase, identity file text) as AgeKeys; a bad identity is a 400. */
export function givenKeys(input: { passphrase?: string; identity?: string }): AgeKeys | undefined {
  if (!input.passphrase && !input.identity) return undefined;
  let identities: string[] = [];
  if (input.identity) {
    try {
      identities = parseIdentityFile(input.identity);
    } catch (err) {
      throw new AppError("BAD_REQUEST", `identity: ${(err as Error).message}.`);
    }
  }
  return { passphrases: input.passphrase ? [input.passphrase] : [], identities };
}

export type EncryptionUpdate =
  | { mode: "off" }
  | { mode: "passphrase"; passphrase: string }
  | { mode: "recipients"; recipients: string[] };

/**
 * Saves the mode (and writes or keeps the passphrase). Switching away from passphrase mode
 * keeps the passphrase file: the server still verifies and restores the older backups it
 * encrypted; `forgetPassphrase` removes it.
 */
export async function saveEncryptionSettings(db: AppDatabase, config: AppConfig, update: EncryptionUpdate, opts: { forgetPassphrase?: boolean } = {}): Promise<void> {
  let recipients: string[] = [];
  if (update.mode === "recipients") {
    recipients = [...new Set(update.recipients.map((r) => r.trim()).filter(Boolean))];
    if (recipients.length === 0) throw new AppError("BAD_REQUEST", "Give at least one age public key (age1…).");
    const bad = recipients.find((r) => !parseRecipient(r));
    if (bad) throw new AppError("BAD_REQUEST", `"${bad.slice(0, 20)}…" is not an age public key (age1…, as age-keygen prints it).`);
  }
  if (update.mode === "passphrase") {
    if (update.passphrase.length < MIN_PASSPHRASE_LENGTH) {
      throw new AppError("BAD_REQUEST", `The passphrase must have at least ${MIN_PASSPHRASE_LENGTH} characters.`);
    }
    await fs.promises.mkdir(config.secretsPath, { recursive: true, mode: 0o700 });
    await writeFileAtomic(passphrasePath(config), update.passphrase);
  } else if (opts.forgetPassphrase) {
    await fs.promises.rm(passphrasePath(config), { force: true });
    await fsyncDir(config.secretsPath).catch(() => undefined);
  }
  const now = new Date();
  // A new id for every key set: the next incremental then starts a new chain under it.
  const keyId = crypto.randomBytes(8).toString("hex");
  db.transaction((tx) => {
    tx.delete(settings).where(inArray(settings.key, [KEYS.mode, KEYS.recipients, KEYS.keyId])).run();
    tx.insert(settings).values({ key: KEYS.mode, value: update.mode, updatedAt: now }).run();
    tx.insert(settings).values({ key: KEYS.recipients, value: JSON.stringify(recipients), updatedAt: now }).run();
    tx.insert(settings).values({ key: KEYS.keyId, value: keyId, updatedAt: now }).run();
  });
}

/**
 * The recovery sheet the admin keeps before switching encryption on: what the key is and how
 * to open a backup with standard tools if this software is gone. Secrets are only in it when
 * the caller puts them there (the passphrase being set, a key pair just generated).
 */
export function recoverySheet(opts: { host: string; mode: "passphrase" | "recipients"; passphrase?: string; recipients?: string[]; identity?: string }): string {
  const lines = [
    "BaluHost backup recovery sheet",
    `Server: ${opts.host}`,
    `Made: ${new Date().toISOString()}`,
    "",
    "Backups of this server are encrypted with age (https://age-encryption.org, Debian package 'age').",
    "Without the key below they cannot be opened by anyone, including you. Keep this sheet offline.",
    "",
  ];
  if (opts.mode === "passphrase") {
    lines.push("Key: the passphrase", `  ${opts.passphrase ?? "(the passphrase you set; it is not printed here)"}`, "");
    lines.push("Recover a backup:", "  age -d backup_YYYYMMDD_HHMMSS.tar.gz.age | tar xzf -", "  (age asks for the passphrase)");
  } else {
    lines.push("Public keys backups are encrypted to:", ...(opts.recipients ?? []).map((r) => `  ${r}`), "");
    if (opts.identity) lines.push("Private key (identity) - save it as key.txt:", `  ${opts.identity}`, "");
    lines.push("Recover a backup:", "  age -d -i key.txt backup_YYYYMMDD_HHMMSS.tar.gz.age | tar xzf -");
  }
  lines.push(
    "",
    "An incremental backup holds only what changed: extract its chain oldest first (the full backup,",
    "then each incremental) into the same folder; backup/manifest.json of the newest says which files exist.",
  );
  return lines.join("\n") + "\n";
}

// --- The doors' service functions (audited) ----------------------------------------------------

/** What tRPC, REST and the CLI show of the settings: never a secret. */
export function encryptionRecord(s: EncryptionSettings) {
  return {
    mode: s.mode,
    recipients: s.recipients,
    passphrase_kept: s.passphraseKept,
    identity_kept: s.identityKept,
    source: s.source,
    min_passphrase_length: MIN_PASSPHRASE_LENGTH,
  };
}

/**
 * Switches encryption on, changes its key, or switches it off. Switching on (or changing the
 * key) needs `recoverySheetSaved`: the admin has downloaded or copied the recovery sheet,
 * because a lost key means lost backups. Audited, without any secret.
 */
export async function updateEncryption(opts: {
  db: AppDatabase;
  config: AppConfig;
  actor: Actor;
  update: EncryptionUpdate;
  recoverySheetSaved: boolean;
  forgetPassphrase?: boolean;
}): Promise<EncryptionSettings> {
  const { db, config, actor, update } = opts;
  try {
    if (update.mode !== "off" && !opts.recoverySheetSaved) {
      throw new AppError(
        "BAD_REQUEST",
        "Save the recovery sheet first (download or copy it, and keep it offline): without the key, encrypted backups cannot be restored by anyone.",
      );
    }
    await saveEncryptionSettings(db, config, update, { forgetPassphrase: opts.forgetPassphrase });
    const s = getEncryptionSettings(db, config);
    recordAudit(db, {
      action: "backup.encryption_settings",
      actor,
      success: true,
      details: { mode: s.mode, recipients: s.recipients.length ? s.recipients : undefined, passphrase_kept: s.passphraseKept },
    });
    return s;
  } catch (err) {
    recordAudit(db, { action: "backup.encryption_settings", actor, success: false, errorMessage: describeError(err), details: { mode: update.mode } });
    throw err;
  }
}

/** A new age key pair for the admin to keep: the identity is returned once and never stored. */
export function generateKeyPair(opts: { db: AppDatabase; actor: Actor }): { identity: string; recipient: string } {
  const pair = generateIdentity();
  recordAudit(opts.db, { action: "backup.encryption_keygen", actor: opts.actor, success: true, details: { recipient: pair.recipient } });
  return pair;
}
