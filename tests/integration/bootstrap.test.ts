import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type DatabaseHandle } from "@/db/client";
import { users } from "@/db/schema";
import { bootstrapAdmin, checkCredentials, createUser } from "@/server/users";
import { makeTempDir } from "../helpers/test-app";

describe("first-run bootstrap", () => {
  let root: string;
  let handle: DatabaseHandle;
  beforeEach(() => {
    root = makeTempDir("baluhost-bootstrap-");
    handle = openDatabase(path.join(root, "baluhost.db"));
  });
  afterEach(() => {
    handle.sqlite.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const allUsers = () => handle.db.select().from(users).all();

  it("creates exactly one admin with ADMIN_PASSWORD on an empty database", () => {
    const result = bootstrapAdmin(handle.db, "from-the-environment");
    expect(result).toEqual({ created: true, username: "admin", generatedPassword: undefined });
    expect(allUsers()).toMatchObject([{ username: "admin", role: "admin" }]);
    expect(checkCredentials(handle.db, "admin", "from-the-environment")).not.toBeNull();
  });

  it("generates a password that verifies when ADMIN_PASSWORD is not set", () => {
    const result = bootstrapAdmin(handle.db, undefined);
    expect(result.created).toBe(true);
    expect(result.generatedPassword?.length).toBeGreaterThanOrEqual(12);
    expect(checkCredentials(handle.db, "admin", result.generatedPassword!)).not.toBeNull();
  });

  it("creates nothing when run a second time", () => {
    bootstrapAdmin(handle.db, "from-the-environment");
    const before = allUsers();
    expect(bootstrapAdmin(handle.db, "another-password")).toEqual({ created: false });
    expect(allUsers()).toEqual(before);
    expect(checkCredentials(handle.db, "admin", "another-password")).toBeNull();
  });

  it("creates nothing on a database that already has users, even without an admin", () => {
    createUser(handle.db, { username: "alice", password: "alice-password", role: "user" });
    expect(bootstrapAdmin(handle.db, "from-the-environment")).toEqual({ created: false });
    expect(allUsers().map((u) => u.username)).toEqual(["alice"]);
  });
});
