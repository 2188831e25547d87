import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import type { Session } from "next-auth";
import type { JWT } from "next-auth/jwt";
import { users } from "@/db/schema";
import { getAuthOptions } from "@/server/auth/options";
import { createTestApp, type TestApp } from "../helpers/test-app";

describe("the session callback", () => {
  let app: TestApp;
  beforeEach(() => {
    app = createTestApp();
  });
  afterEach(() => app.cleanup());

  const resolve = async (token: JWT) => {
    const session = getAuthOptions().callbacks!.session!;
    const base = { expires: new Date(Date.now() + 60_000).toISOString() } as Session;
    return (await session({ session: base, token, user: undefined as never, newSession: undefined, trigger: "update" } as never)) as Session;
  };

  it("carries the role read from the database, not from the cookie", async () => {
    app.db.update(users).set({ role: "user" }).where(eq(users.id, app.admin.id)).run();
    expect((await resolve({ uid: app.admin.id, name: "admin" })).user).toEqual({ id: app.admin.id, name: "admin", role: "user" });
  });

  it("drops a session whose id now names another account, as after a restore", async () => {
    expect((await resolve({ uid: app.admin.id, name: "someone-else" })).user).toBeUndefined();
  });

  it("drops a session whose user no longer exists", async () => {
    expect((await resolve({ uid: 9999, name: "ghost" })).user).toBeUndefined();
  });
});
