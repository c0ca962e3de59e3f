import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  base32Decode,
  base32Encode,
  hotp,
  newTotpSecret,
  otpauthUri,
  totpCode,
  totpStep,
  verifyTotp,
} from "../../src/core/totp.ts";

// RFC 6238 appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
const RFC_SEED = Buffer.from("12345678901234567890", "ascii");
const RFC_VECTORS: Array<[number, string]> = [
  [59, "94287082"],
  [1111111109, "07081804"],
  [1111111111, "14050471"],
  [1234567890, "89005924"],
  [2000000000, "69279037"],
  [20000000000, "65353130"],
];

describe("TOTP (RFC 6238, SHA-1)", () => {
  for (const [seconds, expected] of RFC_VECTORS) {
    it(`matches the RFC test vector at T=${seconds}`, () => {
      const step = totpStep(new Date(seconds * 1000));
      assert.equal(hotp(RFC_SEED, step, 8), expected);
      // The six-digit code is the same truncation taken modulo 10^6.
      assert.equal(totpCode(base32Encode(RFC_SEED), step), expected.slice(2));
    });
  }

  it("matches the RFC 4226 HOTP vectors", () => {
    const expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"];
    assert.deepEqual(expected.map((_, counter) => hotp(RFC_SEED, counter)), expected);
  });

  it("round-trips base32 and refuses characters outside the alphabet", () => {
    assert.equal(base32Encode(Buffer.from("foobar")), "MZXW6YTBOI");
    assert.deepEqual(Buffer.from(base32Decode("mzxw 6ytb oi======") ?? []), Buffer.from("foobar"));
    assert.equal(base32Decode("MZXW1"), null);
  });

  it("makes 160-bit secrets", () => {
    const secret = newTotpSecret();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    assert.equal(base32Decode(secret)?.length, 20);
    assert.notEqual(newTotpSecret(), secret);
  });

  const secret = base32Encode(RFC_SEED);
  const at = new Date(1111111111 * 1000);
  const step = totpStep(at);

  it("accepts the current step and one step either side, returning the step", () => {
    assert.equal(verifyTotp(secret, totpCode(secret, step), at, null), step);
    assert.equal(verifyTotp(secret, totpCode(secret, step - 1), at, null), step - 1);
    assert.equal(verifyTotp(secret, totpCode(secret, step + 1), at, null), step + 1);
  });

  it("fails if the code is two steps away", () => {
    assert.equal(verifyTotp(secret, totpCode(secret, step - 2), at, null), null);
    assert.equal(verifyTotp(secret, totpCode(secret, step + 2), at, null), null);
  });

  it("fails if the code was already used (replay) or an older one is sent after it", () => {
    assert.equal(verifyTotp(secret, totpCode(secret, step), at, step), null);
    assert.equal(verifyTotp(secret, totpCode(secret, step - 1), at, step), null);
    assert.equal(verifyTotp(secret, totpCode(secret, step + 1), at, step), step + 1);
  });

  it("fails on malformed codes and secrets", () => {
    for (const code of ["", "12345", "1234567", "abcdef", "12 34 5x"]) assert.equal(verifyTotp(secret, code, at, null), null, code);
    assert.equal(verifyTotp("not base32!", "123456", at, null), null);
  });

  it("accepts a code typed with a space in the middle", () => {
    const code = totpCode(secret, step);
    assert.equal(verifyTotp(secret, `${code.slice(0, 3)} ${code.slice(3)}`, at, null), step);
  });

  it("builds an otpauth URI with the issuer and account", () => {
    const uri = new URL(otpauthUri({ secret, account: "admin@example.org", issuer: "Keysign" }));
    assert.equal(uri.protocol, "otpauth:");
    assert.equal(uri.host, "totp");
    assert.equal(decodeURIComponent(uri.pathname), "/Keysign:admin@example.org");
    assert.equal(uri.searchParams.get("secret"), secret);
    assert.equal(uri.searchParams.get("digits"), "6");
    assert.equal(uri.searchParams.get("period"), "30");
  });
});
