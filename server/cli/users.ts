/** `user ...` commands: create accounts and reset passwords, e.g. when the admin is locked out. */
import { Option, type Command } from "commander";
import { USER_ROLES, type UserRole } from "@/db/schema";
import { createUser, resetPassword } from "../users";
import { audited, printResult, readPassword, startCommand, type CliIO } from "./io";

export function registerUserCommands(program: Command, io: CliIO): void {
  const user = program.command("user").description("manage user accounts");

  user
    .command("create")
    .description("create a user; the password is read from stdin (asked twice on a terminal)")
    .argument("<name>", "username")
    .addOption(new Option("--role <role>", "the user's role").choices(USER_ROLES).default("user"))
    .action(async (name: string, options: { role: UserRole }, command: Command) => {
      const ctx = startCommand(io, command);
      const password = await readPassword(io, { confirm: true });
      const created = await audited(
        ctx,
        { action: "user.create", resource: `user:${name}`, details: { role: options.role } },
        () => createUser(ctx.db, { username: name, password, role: options.role }),
        (row) => ({ details: { id: row.id, role: row.role } }),
      );
      printResult(ctx, `created user ${created.username} (${created.role})`, {
        id: created.id,
        username: created.username,
        role: created.role,
      });
    });

  user
    .command("reset-password")
    .description("set a new password; read from stdin (asked twice on a terminal)")
    .argument("<name>", "username")
    .action(async (name: string, _options: unknown, command: Command) => {
      const ctx = startCommand(io, command);
      const password = await readPassword(io, { confirm: true });
      const updated = await audited(ctx, { action: "user.reset_password", resource: `user:${name}` }, () =>
        resetPassword(ctx.db, name, password),
      );
      printResult(ctx, `password of ${updated.username} changed`, { id: updated.id, username: updated.username });
    });
}
