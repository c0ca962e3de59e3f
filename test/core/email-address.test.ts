import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isStrictAddrSpec, normaliseAddress } from "../../src/core/email-address.ts";

describe("strict addr-spec", () => {
  for (const good of ["dev@example.org", "first.last+tag@mail.example.co.uk", "a_b-c@x-y.example"]) {
    it(`accepts ${good}`, () => assert.equal(isStrictAddrSpec(good), true));
  }
  const bad: Array<[string, string]> = [
    ["no at sign", "dev.example.org"],
    ["display name", "Dev <dev@example.org>"],
    ["header injection", "dev@example.org\r\nBcc: victim@example.org"],
    ["second address", "dev@example.org,other@example.org"],
    ["quoted local part", '"dev"@example.org'],
    ["IP literal", "dev@[127.0.0.1]"],
    ["single-label domain", "dev@localhost"],
    ["leading dot", ".dev@example.org"],
    ["double dot", "dev..x@example.org"],
    ["space", "dev @example.org"],
    ["non-ASCII homoglyph", "dev@exаmple.org"],
    ["overlong local part", `${"a".repeat(65)}@example.org`],
    ["overlong address", `a@${"b".repeat(250)}.org`],
    ["empty", ""],
  ];
  for (const [label, value] of bad) {
    it(`refuses ${label}`, () => assert.equal(isStrictAddrSpec(value), false));
  }
  it("normalises case and surrounding space", () => {
    assert.equal(normaliseAddress("  Dev@Example.ORG "), "dev@example.org");
    assert.equal(normaliseAddress("nope"), null);
  });
});
