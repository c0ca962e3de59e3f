import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { escapeField, keyserverAddress, machineReadableIndex } from "../../src/core/publication/hkp.ts";

describe("HKP helpers", () => {
  it("names the portal as GnuPG must write it: hkps for https, and always the port for plain hkp (which means 11371 alone)", () => {
    assert.equal(keyserverAddress("https://keys.example.org"), "hkps://keys.example.org");
    assert.equal(keyserverAddress("https://keys.example.org:8443"), "hkps://keys.example.org:8443");
    assert.equal(keyserverAddress("http://portal.internal"), "hkp://portal.internal:80");
    assert.equal(keyserverAddress("http://localhost:3000"), "hkp://localhost:3000");
  });

  it("percent-escapes colons, percent signs, controls and non-ASCII bytes in index fields", () => {
    assert.equal(escapeField("Zoë: 100% <z@example.org>\n"), "Zo%C3%AB%3A 100%25 <z@example.org>%0A");
  });

  it("flags keys their owner revoked in the index", () => {
    const key = { fingerprint: "B".repeat(40), algorithm: 22, bits: 255, createdAt: new Date("2026-01-01T00:00:00Z"), userIds: [] };
    const now = new Date("2026-06-01T00:00:00Z");
    assert.equal(
      machineReadableIndex([{ ...key, expiresAt: null, revoked: true }, { ...key, expiresAt: new Date("2026-02-01T00:00:00Z"), revoked: true }, { ...key, expiresAt: null, revoked: false }], now),
      `info:1:3\npub:${"B".repeat(40)}:22:255:1767225600::r\npub:${"B".repeat(40)}:22:255:1767225600:1769904000:re\npub:${"B".repeat(40)}:22:255:1767225600::\n`,
    );
  });

  it("flags expired keys in the index", () => {
    const key = { fingerprint: "A".repeat(40), algorithm: 22, bits: 255, createdAt: new Date("2026-01-01T00:00:00Z"), userIds: ["Dev <dev@example.org>"] };
    const now = new Date("2026-06-01T00:00:00Z");
    assert.equal(
      machineReadableIndex([{ ...key, expiresAt: new Date("2026-02-01T00:00:00Z") }, { ...key, expiresAt: null }], now),
      `info:1:2\npub:${"A".repeat(40)}:22:255:1767225600:1769904000:e\nuid:Dev <dev@example.org>:::\npub:${"A".repeat(40)}:22:255:1767225600::\nuid:Dev <dev@example.org>:::\n`,
    );
  });
});
