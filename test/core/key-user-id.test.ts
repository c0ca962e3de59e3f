/**
 * The user ID grammar and character rules (documented in src/core/key-policy/user-id.ts),
 * case by case, plus fingerprint formatting.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatFingerprint } from "../../src/core/key-policy.ts";
import { quoteText } from "../../src/core/key-policy/messages.ts";
import { isStrictAddrSpec } from "../../src/core/email-address.ts";
import { checkUserId } from "../../src/core/key-policy/user-id.ts";

const check = (userId: string | Uint8Array) => checkUserId(typeof userId === "string" ? Buffer.from(userId, "utf8") : userId);

function accepted(userId: string, name: string, email: string | null): void {
  const result = check(userId);
  if (!result.ok) assert.fail(`${userId}: ${result.problem.message}`);
  assert.deepEqual(result.facts, { userId, name, email });
}

function refused(userId: string | Uint8Array, code: string): void {
  const result = check(userId);
  assert.equal(result.ok, false, `expected ${code} for ${String(userId)}`);
  if (!result.ok) assert.equal(result.problem.code, code, result.problem.message);
}

describe("user ID forms", () => {
  it("accepts Name <addr>, <addr>, a bare addr and a name alone", () => {
    accepted("Alice Example <alice@example.org>", "Alice Example", "alice@example.org");
    accepted("Alice (work) <Alice.Example+pgp@Mail.Example.ORG>", "Alice (work)", "alice.example+pgp@mail.example.org");
    accepted("<alice@example.org>", "", "alice@example.org");
    accepted("alice@example.org", "", "alice@example.org");
    accepted("Zoë Ångström", "Zoë Ångström", null);
    accepted("Jürgen Müller <juergen@xn--mller-kva.example>", "Jürgen Müller", "juergen@xn--mller-kva.example");
  });

  it("refuses what does not fit the grammar", () => {
    const cases = [
      "",
      " Alice <alice@example.org>",
      "Alice <alice@example.org> ",
      "Alice  Example <alice@example.org>",
      "Alice<alice@example.org>",
      "Alice <alice@example.org> <bob@example.org>",
      "<alice@example.org> Alice",
      "bob@example.org <alice@example.org>",
      "Alice <alice@example.org",
      "Alice > Bob",
      "Alice <>",
      "alice at example.org@",
    ];
    for (const userId of cases) refused(userId, "KEYSIGN_ERR_USERID_FORMAT");
  });
});

describe("strict addr-spec", () => {
  it("accepts dot-atoms at LDH domains", () => {
    for (const address of ["a@b.co", "first.last@example.org", "x+tag@sub.example.museum", "o'brien@example.ie", "a_b-c@x-y.example"]) {
      assert.equal(isStrictAddrSpec(address), true, address);
    }
  });

  it("refuses quoted strings, comments, IP literals, odd dots and hyphens, non-ASCII", () => {
    const cases = [
      '"quoted"@example.org',
      "alice(comment)@example.org",
      "alice@[192.0.2.1]",
      "alice@192.0.2.1",
      ".alice@example.org",
      "alice.@example.org",
      "al..ice@example.org",
      "alice@example",
      "alice@-example.org",
      "alice@example-.org",
      "alice@example..org",
      "alice@exa_mple.org",
      "jürgen@example.org",
      "alice@müller.example",
      "alice@@example.org",
      "@example.org",
      `${"a".repeat(65)}@example.org`,
      `a@${"b".repeat(64)}.org`,
    ];
    for (const address of cases) assert.equal(isStrictAddrSpec(address), false, address);
  });
});

describe("characters, length and encoding", () => {
  it("refuses control, bidi, zero-width, BOM, line separators and unusual spaces", () => {
    const hostile = ["\u0000", "\u0007", "\u001b", "\u007f", "\u0085", "\u200e", "\u202e", "\u2066", "\u200b", "\u200d", "\u2060", "\ufeff", "\u2028", "\u00a0", "\u3000", "\u3164", "\ue000"];
    for (const character of hostile) refused(`Mal${character}lory <m@example.org>`, "KEYSIGN_ERR_USERID_CHARACTERS");
  });

  it("limits user IDs to 256 bytes (counted in UTF-8)", () => {
    const at256 = `${"é".repeat(118)} <${"a".repeat(5)}@example.org>`;
    assert.equal(Buffer.byteLength(at256), 256);
    assert.equal(check(at256).ok, true);
    refused(`é${at256}`, "KEYSIGN_ERR_USERID_TOO_LONG");
  });

  it("refuses invalid UTF-8 and overlong encodings", () => {
    refused(Uint8Array.from([0x41, 0xc3, 0x28, 0x20, 0x3c, 0x61, 0x40, 0x62, 0x2e, 0x63, 0x6f, 0x3e]), "KEYSIGN_ERR_USERID_ENCODING");
    refused(Uint8Array.from([0x41, 0xc0, 0xbc]), "KEYSIGN_ERR_USERID_ENCODING");
  });
});

describe("quoting for messages", () => {
  it("escapes what could hide or reorder text and shortens long text", () => {
    assert.equal(quoteText('a\u202eb"c\\d'), '"a\\u{202E}b\\"c\\\\d"');
    assert.equal(quoteText("x".repeat(100)), `"${"x".repeat(80)}…"`);
  });
});

describe("formatFingerprint", () => {
  it("groups upper-case hex in fours", () => {
    assert.equal(formatFingerprint("5f726fa33edf58bd6828b8c5a5322a5344a23b5d"), "5F72 6FA3 3EDF 58BD 6828 B8C5 A532 2A53 44A2 3B5D");
    assert.equal(formatFingerprint("5F72 6FA3 3EDF 58BD 6828  B8C5 A532 2A53 44A2 3B5D"), "5F72 6FA3 3EDF 58BD 6828 B8C5 A532 2A53 44A2 3B5D");
  });
});
