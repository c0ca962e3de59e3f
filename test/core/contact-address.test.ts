import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { contactAddressOf, parseContactAddress, senderAddress } from "../../src/core/settings.ts";

describe("the contact address setting", () => {
  it("takes one strict address, lower-cased, or nothing", () => {
    assert.equal(parseContactAddress("  Security@Example.ORG "), "security@example.org");
    assert.equal(parseContactAddress(""), "");
    for (const bad of ["security", "security@localhost", "a@b@example.org", "Security <security@example.org>", "security@example.org\r\nBcc: x@example.org", `${"a".repeat(65)}@example.org`]) {
      assert.equal(typeof parseContactAddress(bad), "object", bad);
    }
  });

  it("falls back to the sender's address, when that is one people can write to", () => {
    assert.equal(senderAddress("Keysign <Keysign@Example.org>"), "keysign@example.org");
    assert.equal(senderAddress("keysign@example.org"), "keysign@example.org");
    assert.equal(senderAddress("Keysign <keysign@localhost>"), null);
    assert.equal(senderAddress("not an address"), null);
    assert.equal(contactAddressOf({ contactAddress: "" }, "Keysign <keysign@example.net>"), "keysign@example.net");
    assert.equal(contactAddressOf({ contactAddress: "security@example.org" }, "Keysign <keysign@example.net>"), "security@example.org");
    assert.equal(contactAddressOf({ contactAddress: "" }, "Keysign <keysign@localhost>"), null);
  });
});
