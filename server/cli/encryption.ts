/**
 * `backup encryption ...`: the encryption settings for headless installs, and the key options
 * the archive commands share (--passphrase-file, --identity). Secrets never come from argv
 * (they would show in `ps` and shell history): from a file, or stdin.
 */
import fs from "node:fs";
import os from "node:os";
import type { Command } from "commander";
import type { AgeKeys } from "../backup/crypto";
import { encryptionRecord, generateKeyPair, getEncryptionSettings, givenKeys, recoverySheet, updateEncryption, type EncryptionUpdate } from "../backup/encryption";
import { AppError } from "../errors";
import { printHint, printResult, readPassword, startCommand, type CliIO } from "./io";

export interface KeyOptions {
  passphraseFile?: string;
  identity?: string;
}

/** Adds --passphrase-file and --identity to an archive command. */
export function withKeyOptions(command: Command): Command {
  return command
    .option("--passphrase-file <file>", "for an encrypted (.tar.gz.age) archive: a file holding its passphrase (first line)")
    .option("--identity <file>", "for an encrypted archive: an age identity file (as age-keygen writes it)");
}

/** The keys the options name, read from their files; undefined when none was given. */
export function keysFromOptions(options: KeyOptions): AgeKeys | undefined {
  const read = (file: string, what: string) => {
    try {
      return fs.readFileSync(file, "utf8");
    } catch (err) {
      throw new AppError("BAD_REQUEST", `${what} ${file} cannot be read: ${(err as Error).message}`);
    }
  };
  const passphrase = options.passphraseFile ? read(options.passphraseFile, "--passphrase-file").split(/\r?\n/)[0] : undefined;
  const identity = options.identity ? read(options.identity, "--identity") : undefined;
  return givenKeys({ passphrase: passphrase || undefined, identity });
}

export function registerEncryptionCommands(backup: Command, io: CliIO): void {
  const enc = backup.command("encryption").description("encrypt backups (age format: `age -d` opens them): show, set, off, keygen");

  enc
    .command("show")
    .description("the mode, the public keys, and whether the server keeps the passphrase")
    .action((_options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      const r = encryptionRecord(getEncryptionSettings(ctx.db, ctx.config));
      const lines = [`encryption: ${r.mode} (${r.source})`];
      if (r.mode === "recipients") lines.push(...r.recipients.map((k) => `  recipient ${k}`));
      lines.push(`passphrase kept by the server: ${r.passphrase_kept ? "yes" : "no"}; identity kept: ${r.identity_kept ? "yes" : "no"}`);
      printResult(ctx, lines.join("\n"), r);
    });

  enc
    .command("set")
    .description("encrypt new backups with a passphrase (kept by the server, 0600) or to age public keys (the server cannot decrypt)")
    .option("--passphrase-file <file>", "passphrase mode: the passphrase, first line of this file")
    .option("--passphrase-stdin", "passphrase mode: read the passphrase from stdin (asked twice on a terminal)")
    .option("--recipient <age1…>", "recipients mode: an age public key (repeat for several)", (v: string, all: string[] = []) => [...all, v])
    .requiredOption("--recovery-sheet <file>", "write the recovery sheet here first (keep it offline: a lost key means lost backups)")
    .action(async (options: { passphraseFile?: string; passphraseStdin?: boolean; recipient?: string[]; recoverySheet: string }, command: Command) => {
      const ctx = startCommand(io, command);
      let update: EncryptionUpdate;
      if (options.recipient?.length) {
        update = { mode: "recipients", recipients: options.recipient };
      } else if (options.passphraseFile || options.passphraseStdin) {
        const passphrase = options.passphraseFile
          ? (keysFromOptions({ passphraseFile: options.passphraseFile })?.passphrases?.[0] ?? "")
          : await readPassword(io, { confirm: true });
        update = { mode: "passphrase", passphrase };
      } else {
        throw new AppError("BAD_REQUEST", "Give --recipient age1… (repeatable), or --passphrase-file FILE / --passphrase-stdin.");
      }
      const sheet = recoverySheet({ host: os.hostname(), ...update });
      fs.writeFileSync(options.recoverySheet, sheet, { mode: 0o600, flag: "wx" });
      const s = await updateEncryption({ db: ctx.db, config: ctx.config, actor: ctx.actor, update, recoverySheetSaved: true });
      printHint(io, `recovery sheet written to ${options.recoverySheet}: print it or move it offline, then delete it here`);
      printResult(ctx, `new backups are encrypted (${s.mode}); older ones keep their form`, encryptionRecord(s));
    });

  enc
    .command("off")
    .description("stop encrypting new backups (existing encrypted ones stay encrypted)")
    .option("--forget-passphrase", "also delete the passphrase the server keeps")
    .action(async (options: { forgetPassphrase?: boolean }, command: Command) => {
      const ctx = startCommand(io, command);
      const s = await updateEncryption({ db: ctx.db, config: ctx.config, actor: ctx.actor, update: { mode: "off" }, recoverySheetSaved: false, forgetPassphrase: options.forgetPassphrase });
      printResult(ctx, "new backups are not encrypted", encryptionRecord(s));
    });

  enc
    .command("keygen")
    .description("make an age key pair (like age-keygen): the identity goes to the file, never to the server")
    .requiredOption("-o, --output <file>", "where to write the identity (created, mode 0600)")
    .action((options: { output: string }, command: Command) => {
      const ctx = startCommand(io, command);
      const { identity, recipient } = generateKeyPair({ db: ctx.db, actor: ctx.actor });
      fs.writeFileSync(options.output, `# created: ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`, { mode: 0o600, flag: "wx" });
      printResult(ctx, `Public key: ${recipient}\nidentity written to ${options.output}; use: backup encryption set --recipient ${recipient} --recovery-sheet FILE`, { recipient, identity_file: options.output });
    });
}
