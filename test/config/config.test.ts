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
  const bad: Array<[string, string]> = [["PORT", "eighty"], ["PUBLIC_URL", "keysign.example.org"], ["PUBLIC_URL", "https://x.org/path"], ["MIN_RSA_BITS", "1024"], ["LOG_LEVEL", "loud"], ["SIGNING_SCHEDULE", "monthly\nSubject: spoofed"], ["SIGNING_SCHEDULE", "x".repeat(121)]];
  for (const [name, value] of bad) {
    it(`refuses ${name}=${value} with a message naming it`, () => {
      assert.throws(() => loadConfig({ [name]: value }), (error: Error) => error instanceof ConfigError && error.message.includes(name));
    });
  }

  describe("PUBLISH_KEYSERVERS", () => {
    it("is empty by default: no pushes", () => {
      assert.deepEqual(loadConfig({}).publishKeyservers, []);
    });
    it("reads hkp:// as http on port 11371 and hkps:// as https on 443, names them without the default port and counts a repeat once", () => {
      const { publishKeyservers } = loadConfig({ PUBLISH_KEYSERVERS: "hkps://Keys.Example.org, hkp://keys.example.net hkp://127.0.0.1:8080\nhkps://keys.example.org:443/" });
      assert.deepEqual(publishKeyservers, [
        { name: "hkps://keys.example.org", addUrl: "https://keys.example.org:443/pks/add" },
        { name: "hkp://keys.example.net", addUrl: "http://keys.example.net:11371/pks/add" },
        { name: "hkp://127.0.0.1:8080", addUrl: "http://127.0.0.1:8080/pks/add" },
      ]);
    });
    const refused: Array<[string, RegExp]> = [
      ["https://keys.example.org", /only hkp:\/\/ .* and hkps:\/\//],
      ["ldap://keys.example.org", /only hkp:\/\//],
      ["keys.example.org", /write it as hkps:\/\/keys\.example\.org/],
      ["hkps://keys.example.org/pks/add", /give only the scheme, host and port/],
      ["hkps://keys.example.org?x=1", /give only the scheme, host and port/],
      ["hkp://", /the host is missing/],
    ];
    for (const [value, message] of refused) {
      it(`refuses ${value} at start-up, saying what to write`, () => {
        assert.throws(() => loadConfig({ PUBLISH_KEYSERVERS: `hkps://fine.example.org ${value}` }), (error: Error) => error instanceof ConfigError && error.message.includes("PUBLISH_KEYSERVERS") && message.test(error.message));
      });
    }
    it("refuses credentials in a URL without repeating them", () => {
      assert.throws(
        () => loadConfig({ PUBLISH_KEYSERVERS: "hkps://user:hunter2@keys.example.org" }),
        (error: Error) => error instanceof ConfigError && /credentials/.test(error.message) && !error.message.includes("hunter2"),
      );
    });
  });
});
