/**
 * Validated configuration. Every setting comes from the environment with an embedded
 * default, so a fresh clone starts with no setup. A bad value stops start-up with a
 * message naming the variable, never a half-configured server.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";

const positiveInt = (name: string) =>
  z.coerce
    .number({ error: `${name} must be a whole number` })
    .int(`${name} must be a whole number`)
    .min(1, `${name} must be at least 1`);

const configSchema = z.object({
  NAS_DATABASE_PATH: z.string().min(1).default("./data/baluhost.db"),
  NAS_STORAGE_PATH: z.string().min(1).default("./data/storage"),
  NAS_CONFIG_PATH: z.string().min(1).default("./data/config"),
  NAS_BACKUP_PATH: z.string().min(1).default("./backups"),
  NAS_BACKUP_RETENTION_DAYS: positiveInt("NAS_BACKUP_RETENTION_DAYS").max(36500).default(30),
  NAS_BACKUP_MAX_COUNT: positiveInt("NAS_BACKUP_MAX_COUNT").max(10000).default(10),
  PORT: positiveInt("PORT").max(65535).default(3000),
  NAS_SECRETS_PATH: z.string().min(1).optional(),
  NEXTAUTH_SECRET: z.string().min(16, "NEXTAUTH_SECRET must be at least 16 characters").optional(),
  ADMIN_PASSWORD: z.string().min(8, "ADMIN_PASSWORD must be at least 8 characters").optional(),
});

export interface AppConfig {
  databasePath: string;
  storagePath: string;
  configPath: string;
  backupPath: string;
  /** Holds generated secrets; kept apart from the config folder so backups never carry them. */
  secretsPath: string;
  backupRetentionDays: number;
  backupMaxCount: number;
  port: number;
  authSecret?: string;
  adminPassword?: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Parses and validates a config from an environment; throws ConfigError naming the variable. */
export function parseConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  const picked = Object.fromEntries(
    Object.keys(configSchema.shape).map((key) => [key, env[key] === "" ? undefined : env[key]]),
  );
  const result = configSchema.safeParse(picked);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? "config");
      return `  ${name}: ${issue.message.includes(name) ? issue.message : `${name} ${issue.message}`}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const c = result.data;
  const databasePath = path.resolve(c.NAS_DATABASE_PATH);
  const config = {
    databasePath,
    storagePath: path.resolve(c.NAS_STORAGE_PATH),
    configPath: path.resolve(c.NAS_CONFIG_PATH),
    backupPath: path.resolve(c.NAS_BACKUP_PATH),
    secretsPath: path.resolve(c.NAS_SECRETS_PATH ?? path.join(path.dirname(databasePath), "secrets")),
    backupRetentionDays: c.NAS_BACKUP_RETENTION_DAYS,
    backupMaxCount: c.NAS_BACKUP_MAX_COUNT,
    port: c.PORT,
    authSecret: c.NEXTAUTH_SECRET,
    adminPassword: c.ADMIN_PASSWORD,
  };
  checkFoldersApart(config);
  return config;
}

const inside = (child: string, parent: string) => child === parent || child.startsWith(parent + path.sep);

/**
 * A restore replaces everything in the storage and config folders. If the backups, the
 * database or the secrets lived inside one of them, a restore would move them aside and
 * delete them, so such a layout is refused at start-up.
 */
function checkFoldersApart(config: AppConfig): void {
  const replaced: Array<[string, string]> = [
    ["NAS_STORAGE_PATH", config.storagePath],
    ["NAS_CONFIG_PATH", config.configPath],
  ];
  const kept: Array<[string, string]> = [
    ["NAS_BACKUP_PATH", config.backupPath],
    ["NAS_DATABASE_PATH", path.dirname(config.databasePath)],
    ["NAS_SECRETS_PATH", config.secretsPath],
  ];
  const problems: string[] = [];
  for (const [name, dir] of replaced) {
    for (const [otherName, other] of [...kept, ...replaced]) {
      if (otherName === name) continue;
      if (inside(other, dir) || (inside(dir, other) && replaced.some(([n]) => n === otherName))) {
        problems.push(
          `  ${otherName} (${other}) must not be inside or overlap ${name} (${dir}): a restore replaces everything in ${name}.`,
        );
      }
    }
  }
  if (problems.length) throw new ConfigError(`Invalid configuration:\n${[...new Set(problems)].join("\n")}`);
}

const holder = globalThis as unknown as { __baluhostConfig?: AppConfig };

/** The process-wide config, parsed once. Tests replace it with setConfig(). */
export function getConfig(): AppConfig {
  holder.__baluhostConfig ??= parseConfig();
  return holder.__baluhostConfig;
}

export function setConfig(config: AppConfig | undefined): void {
  holder.__baluhostConfig = config;
}

/** Creates the data folders the app writes to; safe to call on every start. */
export function ensureDirectories(config: AppConfig): void {
  for (const dir of [
    path.dirname(config.databasePath),
    config.storagePath,
    config.configPath,
    config.backupPath,
  ]) {
    fs.mkdirSync(dir, { recursive: true });
  }
  fs.mkdirSync(config.secretsPath, { recursive: true, mode: 0o700 });
}

/**
 * The session-signing secret: NEXTAUTH_SECRET when given, else one generated on first
 * run and persisted (mode 0600) so sessions survive restarts. Never a hard-coded value.
 */
export function resolveAuthSecret(config: AppConfig): string {
  if (config.authSecret) return config.authSecret;
  const file = path.join(config.secretsPath, "auth-secret");
  try {
    const existing = fs.readFileSync(file, "utf8").trim();
    if (existing.length >= 32) return existing;
    // Replacing it here would lose the race below to itself and return the short value anyway.
    throw new ConfigError(
      `${file} holds a secret shorter than 32 characters: delete the file to generate a new one, or set NEXTAUTH_SECRET.`,
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  fs.mkdirSync(config.secretsPath, { recursive: true, mode: 0o700 });
  const secret = crypto.randomBytes(32).toString("base64url");
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, secret, { mode: 0o600 });
  try {
    // link() fails if another process won the race; then its secret is the one to use.
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return fs.readFileSync(file, "utf8").trim();
}
