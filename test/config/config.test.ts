import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, loadConfig } from "../../src/config.ts";

describe("configuration", () => {
  it("runs with no configuration at all", () => {
    const config = loadConfig({});
    assert.equal(config.PORT, 3000);
    assert.equal(config.PUBLIC_URL, "http://localhost:3000");
    assert.match(config.databaseUrl, /^file:.*data\/keysign\.db$/);
    assert.equal(config.secureCookies, false);
    assert.equal(config.MAIL_WORKER, true);
  });
  it("follows PORT in the default public URL and turns on secure cookies for https", () => {
    assert.equal(loadConfig({ PORT: "8080" }).PUBLIC_URL, "http://localhost:8080");
    assert.equal(loadConfig({ PUBLIC_URL: "https://keysign.example.org" }).secureCookies, true);
  });
  const bad: Array<[string, string]> = [["PORT", "eighty"], ["PUBLIC_URL", "keysign.example.org"], ["PUBLIC_URL", "https://x.org/path"], ["MIN_RSA_BITS", "1024"], ["LOG_LEVEL", "loud"]];
  for (const [name, value] of bad) {
    it(`refuses ${name}=${value} with a message naming it`, () => {
      assert.throws(() => loadConfig({ [name]: value }), (error: Error) => error instanceof ConfigError && error.message.includes(name));
    });
  }
});
