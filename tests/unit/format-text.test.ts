/** Pure text helpers of lib/format.ts: break points in long names, and IP addresses. */
import { describe, expect, it } from "vitest";
import { breakableParts, formatIp } from "@/lib/format";

describe("breakableParts", () => {
  it("cuts a backup name after each underscore and dot", () => {
    expect(breakableParts("backup_20261201_030000.tar.gz")).toEqual(["backup_", "20261201_", "030000.", "tar.", "gz"]);
  });

  it("keeps the pieces together when joined", () => {
    const name = "offsite-copy/of_the..family_share.tgz";
    expect(breakableParts(name).join("")).toBe(name);
  });

  it("leaves a name without separators whole", () => {
    expect(breakableParts("README")).toEqual(["README"]);
  });

  it("gives nothing for an empty text", () => {
    expect(breakableParts("")).toEqual([]);
  });
});

describe("formatIp", () => {
  it("shows an IPv4-mapped IPv6 address as the IPv4 address", () => {
    expect(formatIp("::ffff:192.0.2.7")).toBe("192.0.2.7");
  });

  it("ignores the case of the prefix", () => {
    expect(formatIp("::FFFF:10.0.0.1")).toBe("10.0.0.1");
  });

  it("leaves plain IPv4 and real IPv6 addresses as they are", () => {
    expect(formatIp("127.0.0.1")).toBe("127.0.0.1");
    expect(formatIp("2001:db8::1")).toBe("2001:db8::1");
    expect(formatIp("::1")).toBe("::1");
  });

  it("does not strip the prefix from a mapped address in hex form", () => {
    expect(formatIp("::ffff:c000:0207")).toBe("::ffff:c000:0207");
  });
});
