import { describe, expect, it } from "vitest";
import { hashPassword, verifyPassword } from "@/server/users";

describe("password hashing", () => {
  it("gives a different hash for the same password each time (salted)", () => {
    expect(hashPassword("correct horse")).not.toBe(hashPassword("correct horse"));
  });

  it("stores the algorithm and its parameters with the hash", () => {
    expect(hashPassword("correct horse")).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  });

  it("verifies the right password", () => {
    expect(verifyPassword("correct horse", hashPassword("correct horse"))).toBe(true);
  });

  it("rejects a wrong password", () => {
    expect(verifyPassword("correct horsf", hashPassword("correct horse"))).toBe(false);
  });

  it("does not contain the password in the stored hash", () => {
    expect(hashPassword("correct horse")).not.toContain("correct horse");
  });

  const genuine = hashPassword("correct horse");
  const [, n, r, p, salt, key] = genuine.split("$");
  it.each([
    ["an empty string", ""],
    ["a plain-text password", "correct horse"],
    ["another algorithm", `bcrypt$${n}$${r}$${p}$${salt}$${key}`],
    ["too few fields", `scrypt$${n}$${r}$${p}$${key}`],
    ["an empty key", `scrypt$${n}$${r}$${p}$${salt}$`],
    ["an empty salt", `scrypt$${n}$${r}$${p}$$${key}`],
    ["a cost that is not a number", `scrypt$abc$${r}$${p}$${salt}$${key}`],
    ["a cost that is not a power of two", `scrypt$1000$${r}$${p}$${salt}$${key}`],
  ])("rejects a malformed stored hash: %s", (_label, stored) => {
    expect(verifyPassword("correct horse", stored)).toBe(false);
  });
});
