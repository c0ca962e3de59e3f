import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createTestApp } from "../helpers/app.ts";
import { randomUUID } from "node:crypto";
import { hashToken, newToken } from "../../src/core/tokens.ts";
import { Browser } from "../helpers/http.ts";

describe("security headers and cookies", () => {
  it("serves pages under a CSP that needs no inline script or style and forbids framing", async () => {
    const t = await createTestApp();
    try {
      const response = await t.app.inject({ method: "GET", url: "/" });
      const csp = String(response.headers["content-security-policy"]);
      assert.match(csp, /default-src 'self'/);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.match(csp, /style-src 'self'(;|$)/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.equal(response.headers["x-content-type-options"], "nosniff");
      assert.doesNotMatch(response.body, /<script(?![^>]*\ssrc=)|\sstyle="/, "no inline script or style on the page");
    } finally {
      await t.close();
    }
  });

  it("marks cookies Secure when the portal is served over https", async () => {
    const t = await createTestApp({ PUBLIC_URL: "https://keysign.example.org" });
    try {
      const token = newToken();
      await t.app.db.linkToken.create({
        data: { id: randomUUID(), tokenHash: hashToken(token), purpose: "sign-in", address: "secure@example.org", expiresAt: new Date(t.clock.now.getTime() + 60_000), createdIp: "127.0.0.1" },
      });
      const signedIn = await new Browser(t.app).postForm("/sign-in/link", { token }, `/sign-in/link?token=${token}`);
      const session = signedIn.cookies.find((c) => c.name === "ks_session");
      assert.equal(session?.secure, true);
      assert.equal(session?.httpOnly, true);
      const page = await t.app.inject({ method: "GET", url: "/sign-in" });
      const csrf = page.cookies.find((c) => c.name === "ks_csrf");
      assert.equal(csrf?.secure, true);
      assert.match(String(page.headers["strict-transport-security"]), /max-age=/);
    } finally {
      await t.close();
    }
  });
});
