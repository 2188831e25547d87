/** `token ...` commands: API tokens for scripts. A new token is printed once, alone on stdout. */
import { InvalidArgumentError, Option, type Command } from "commander";
import { AppError } from "../errors";
import { createApiToken, listApiTokens, revokeApiToken, TOKEN_SCOPES, type TokenScope } from "../tokens";
import { findUserByName } from "../users";
import { audited, printHint, printResult, startCommand, type CliIO } from "./io";

export function registerTokenCommands(program: Command, io: CliIO): void {
  const token = program.command("token").description("manage API tokens");

  token
    .command("create")
    .description("create an API token acting as <username>; prints the token alone on stdout")
    .argument("<username>", "the user the token acts as (with that user's current role)")
    .requiredOption("--name <label>", "what the token is for, shown in the token list")
    .addOption(
      new Option("--scope <scope>", "full: acts as the user everywhere; monitoring: reads only /api/health/backups and /api/metrics")
        .choices(TOKEN_SCOPES)
        .default("full"),
    )
    .action(async (username: string, options: { name: string; scope: TokenScope }, command: Command) => {
      const ctx = startCommand(io, command);
      const created = await audited(
        ctx,
        { action: "token.create", resource: `user:${username}`, details: { name: options.name, scope: options.scope } },
        () => {
          const owner = findUserByName(ctx.db, username);
          if (!owner) throw new AppError("NOT_FOUND", `User "${username}" does not exist.`);
          return createApiToken(ctx.db, { userId: owner.id, name: options.name, scope: options.scope });
        },
        (t) => ({ resource: `token:${t.id}`, details: { name: t.name, prefix: t.tokenPrefix, username, scope: t.scope } }),
      );
      printResult(ctx, created.token, { id: created.id, name: created.name, username, scope: created.scope, token: created.token });
      printHint(
        io,
        `created token "${created.name}" for ${username}. It is shown only this once: store it now. ` +
          `Send it as "Authorization: Bearer <token>".`,
      );
    });

  token
    .command("list")
    .description("list API tokens (prefixes only; tokens themselves are never stored)")
    .action((_options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      const rows = listApiTokens(ctx.db);
      const human = rows.length
        ? rows
            .map((t) => `${t.id}\t${t.tokenPrefix}…\t${t.username}\t${t.scope}\t${t.name}${t.revokedAt ? "\t(revoked)" : ""}`)
            .join("\n")
        : "no API tokens";
      printResult(ctx, human, rows);
    });

  token
    .command("revoke")
    .description("revoke an API token by id (see `token list`)")
    .argument("<id>", "token id", parseTokenId)
    .action(async (id: number, _options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      const revoked = await audited(
        ctx,
        { action: "token.revoke", resource: `token:${id}` },
        () => revokeApiToken(ctx.db, id),
        (t) => ({ details: { name: t.name } }),
      );
      printResult(ctx, `revoked token ${revoked.id} (${revoked.name})`, revoked);
    });
}

function parseTokenId(value: string): number {
  const id = Number(value);
  if (!Number.isInteger(id) || id < 1) throw new InvalidArgumentError("a token id is a positive whole number");
  return id;
}
