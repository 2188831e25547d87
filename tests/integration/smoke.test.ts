import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../helpers/test-app";

describe("test app", () => {
  let app: TestApp;
  beforeEach(() => {
    app = createTestApp();
  });
  afterEach(() => app.cleanup());

  it("answers account.me for the admin and null for anonymous", async () => {
    expect(await app.caller(app.admin).account.me()).toMatchObject({ username: "admin", role: "admin" });
    expect(await app.caller(null).account.me()).toBeNull();
  });

  it("refuses the token list to a normal user", async () => {
    await expect(app.caller(app.user).tokens.list()).rejects.toMatchObject({ code: "FORBIDDEN" });
  });
});
