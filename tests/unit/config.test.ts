import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, parseConfig, resolveAuthSecret } from "@/server/config";
import { makeTempDir } from "../helpers/test-app";

describe("parseConfig", () => {
  it("fills every setting with its default when the environment is empty", () => {
    const config = parseConfig({});
    expect(config).toMatchObject({
      databasePath: path.resolve("./data/baluhost.db"),
      storagePath: path.resolve("./data/storage"),
      configPath: path.resolve("./data/config"),
      backupPath: path.resolve("./backups"),
      secretsPath: path.resolve("./data/secrets"),
      backupRetentionDays: 30,
      backupMaxCount: 10,
      port: 3000,
    });
    expect(config.authSecret).toBeUndefined();
    expect(config.adminPassword).toBeUndefined();
  });

  it("reads numbers given as text", () => {
    const config = parseConfig({ NAS_BACKUP_MAX_COUNT: "3", NAS_BACKUP_RETENTION_DAYS: "7", PORT: "8080" });
    expect(config).toMatchObject({ backupMaxCount: 3, backupRetentionDays: 7, port: 8080 });
  });

  it("puts the secrets folder beside the database unless NAS_SECRETS_PATH is set", () => {
    expect(parseConfig({ NAS_DATABASE_PATH: "/srv/nas/db/app.db" }).secretsPath).toBe("/srv/nas/db/secrets");
    expect(parseConfig({ NAS_SECRETS_PATH: "/etc/baluhost" }).secretsPath).toBe("/etc/baluhost");
  });

  it("treats an empty variable as unset", () => {
    const config = parseConfig({ PORT: "", NAS_BACKUP_MAX_COUNT: "", NEXTAUTH_SECRET: "", ADMIN_PASSWORD: "" });
    expect(config.port).toBe(3000);
    expect(config.backupMaxCount).toBe(10);
    expect(config.authSecret).toBeUndefined();
    expect(config.adminPassword).toBeUndefined();
  });

  const badNumbers: Array<[string, string]> = [];
  for (const name of ["NAS_BACKUP_MAX_COUNT", "NAS_BACKUP_RETENTION_DAYS", "PORT"]) {
    for (const value of ["abc", "0", "-1", "1.5"]) badNumbers.push([name, value]);
  }
  badNumbers.push(["PORT", "70000"], ["NAS_BACKUP_MAX_COUNT", "10001"], ["NAS_BACKUP_RETENTION_DAYS", "36501"]);

  it.each(badNumbers)("refuses %s=%s with a ConfigError naming the variable", (name, value) => {
    const attempt = () => parseConfig({ [name]: value });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(name);
  });

  it("names every bad variable when several are wrong", () => {
    expect(() => parseConfig({ PORT: "x", NAS_BACKUP_MAX_COUNT: "0" })).toThrow(
      /PORT[\s\S]*NAS_BACKUP_MAX_COUNT|NAS_BACKUP_MAX_COUNT[\s\S]*PORT/,
    );
  });

  it("refuses a NEXTAUTH_SECRET shorter than 16 characters", () => {
    expect(() => parseConfig({ NEXTAUTH_SECRET: "short" })).toThrow(/NEXTAUTH_SECRET/);
  });

  it("refuses an ADMIN_PASSWORD shorter than 8 characters", () => {
    expect(() => parseConfig({ ADMIN_PASSWORD: "1234567" })).toThrow(/ADMIN_PASSWORD/);
  });
});

describe("resolveAuthSecret", () => {
  let root: string;
  beforeEach(() => {
    root = makeTempDir("baluhost-config-");
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  const configIn = (dir: string, env: Record<string, string> = {}) =>
    parseConfig({ NAS_DATABASE_PATH: path.join(dir, "data", "baluhost.db"), ...env });

  it("generates a secret on first use and persists it readable by the owner only", () => {
    const config = configIn(root);
    const secret = resolveAuthSecret(config);
    const file = path.join(config.secretsPath, "auth-secret");
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(fs.readFileSync(file, "utf8")).toBe(secret);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it("returns the same secret on the next call", () => {
    const config = configIn(root);
    expect(resolveAuthSecret(configIn(root))).toBe(resolveAuthSecret(config));
  });

  it("leaves no temporary file behind", () => {
    const config = configIn(root);
    resolveAuthSecret(config);
    expect(fs.readdirSync(config.secretsPath)).toEqual(["auth-secret"]);
  });

  it("uses NEXTAUTH_SECRET when given and writes no file", () => {
    const config = configIn(root, { NEXTAUTH_SECRET: "a-secret-from-the-environment" });
    expect(resolveAuthSecret(config)).toBe("a-secret-from-the-environment");
    expect(fs.existsSync(path.join(config.secretsPath, "auth-secret"))).toBe(false);
  });

  it("refuses a persisted secret that is too short instead of signing sessions with it", () => {
    const config = configIn(root);
    fs.mkdirSync(config.secretsPath, { recursive: true });
    fs.writeFileSync(path.join(config.secretsPath, "auth-secret"), "tiny");
    expect(() => resolveAuthSecret(config)).toThrow(ConfigError);
  });
});

describe("folders a restore replaces", () => {
  it("refuses backups kept inside the storage folder, naming both variables", () => {
    expect(() => parseConfig({ NAS_STORAGE_PATH: "/srv/nas", NAS_BACKUP_PATH: "/srv/nas/backups" })).toThrow(
      /NAS_BACKUP_PATH \(\/srv\/nas\/backups\) must not be inside or overlap NAS_STORAGE_PATH/,
    );
  });

  it("refuses the database inside the storage folder", () => {
    expect(() => parseConfig({ NAS_STORAGE_PATH: "/srv/nas", NAS_DATABASE_PATH: "/srv/nas/db/baluhost.db" })).toThrow(/NAS_DATABASE_PATH/);
  });

  it("refuses overlapping storage and config folders", () => {
    expect(() => parseConfig({ NAS_STORAGE_PATH: "/srv/nas", NAS_CONFIG_PATH: "/srv/nas/config" })).toThrow(/NAS_CONFIG_PATH/);
  });

  it("accepts sibling folders, and the defaults", () => {
    expect(() =>
      parseConfig({ NAS_STORAGE_PATH: "/srv/nas/storage", NAS_BACKUP_PATH: "/srv/nas/backups", NAS_DATABASE_PATH: "/srv/nas/db/x.db", NAS_CONFIG_PATH: "/srv/nas/config" }),
    ).not.toThrow();
    expect(() => parseConfig({})).not.toThrow();
  });
});
