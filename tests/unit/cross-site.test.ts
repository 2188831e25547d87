import { describe, expect, it } from "vitest";
import { crossSiteRefusal } from "@/server/http/cross-site";

const URL_ = "http://nas.local:3000/api/trpc/tokens.create";

function request(method: string, headers: Record<string, string> = {}): Request {
  return new Request(URL_, { method, headers: { host: "nas.local:3000", ...headers } });
}

describe("crossSiteRefusal", () => {
  it("allows a GET whatever its origin", () => {
    expect(crossSiteRefusal(request("GET", { "sec-fetch-site": "cross-site", origin: "https://evil.example" }))).toBeNull();
  });

  it("refuses a POST the browser marks as cross-site", () => {
    expect(crossSiteRefusal(request("POST", { "sec-fetch-site": "cross-site" }))).toMatch(/Cross-site/);
  });

  it("refuses a POST the browser marks as same-site but not same-origin", () => {
    expect(crossSiteRefusal(request("POST", { "sec-fetch-site": "same-site" }))).toMatch(/Cross-site/);
  });

  it("refuses a POST whose Origin is another host", () => {
    expect(crossSiteRefusal(request("POST", { origin: "http://evil.example" }))).toMatch(/Cross-site/);
  });

  it("refuses a POST whose Origin is the same host on another port", () => {
    expect(crossSiteRefusal(request("POST", { origin: "http://nas.local:4000" }))).toMatch(/Cross-site/);
  });

  it("refuses a POST with the opaque Origin null", () => {
    expect(crossSiteRefusal(request("POST", { origin: "null" }))).toMatch(/Cross-site/);
  });

  it("allows a same-origin JSON POST", () => {
    const req = request("POST", {
      origin: "http://nas.local:3000",
      "sec-fetch-site": "same-origin",
      "content-type": "application/json",
    });
    expect(crossSiteRefusal(req, { requireJson: true })).toBeNull();
  });

  it("accepts a JSON content type with a charset", () => {
    const req = request("POST", { origin: "http://nas.local:3000", "content-type": "application/json; charset=utf-8" });
    expect(crossSiteRefusal(req, { requireJson: true })).toBeNull();
  });

  it("compares Origin with the forwarded host and protocol behind a proxy", () => {
    const req = request("POST", {
      origin: "https://nas.example.org",
      "x-forwarded-host": "nas.example.org",
      "x-forwarded-proto": "https",
    });
    expect(crossSiteRefusal(req)).toBeNull();
  });

  it.each(["multipart/form-data; boundary=x", "text/plain", "application/x-www-form-urlencoded"])(
    "refuses a same-origin %s mutation when JSON is required",
    (contentType) => {
      const req = request("POST", { origin: "http://nas.local:3000", "content-type": contentType });
      expect(crossSiteRefusal(req, { requireJson: true })).toMatch(/application\/json/);
    },
  );

  it("refuses a mutation with no content type when JSON is required", () => {
    expect(crossSiteRefusal(request("POST", { origin: "http://nas.local:3000" }), { requireJson: true })).toMatch(
      /application\/json/,
    );
  });

  it("allows a script's POST that has a bearer token and no Origin", () => {
    const req = request("POST", { authorization: "Bearer bh_abc", "content-type": "application/json" });
    expect(crossSiteRefusal(req, { requireJson: true })).toBeNull();
  });
});
