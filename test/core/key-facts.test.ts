/**
 * The index facts read from a stored canonical copy without openpgp.js must be what openpgp.js
 * reads from the same key: algorithm, size, creation and expiry (fails if, for example, the
 * expiry came from an older self-signature or ignored a direct-key signature).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { readKey } from "openpgp";
import { canonicalizeKey, DEFAULT_KEY_POLICY, inspectKey, type KeyPolicyOptions } from "../../src/core/key-policy.ts";
import { inspectionConfig } from "../../src/core/openpgp-config.ts";
import { keyIndexFacts } from "../../src/core/publication/key-facts.ts";

const NOW = new Date("2026-01-01T00:00:00Z");
const OPTIONS: KeyPolicyOptions = { ...DEFAULT_KEY_POLICY, now: NOW };
const FIXTURES = path.resolve(import.meta.dirname, "../fixtures/keys");

async function canonicalCopy(name: string): Promise<Uint8Array> {
  const inspected = await inspectKey(readFileSync(path.join(FIXTURES, name)), OPTIONS);
  if (!inspected.ok) assert.fail(`${name}: ${JSON.stringify(inspected.problems)}`);
  return (await canonicalizeKey(inspected.minimal, inspected.facts.userIds.map((user) => user.userId), OPTIONS)).binary;
}

/** RSA and DSA by their modulus; elliptic curves by the curve's size, as keyservers list them. */
function expectedBits(info: { bits?: number; curve?: string }): number {
  const curves: Record<string, number> = { ed25519Legacy: 256, nistP256: 256, nistP384: 384, nistP521: 521 };
  return info.bits ?? curves[info.curve ?? ""] ?? -1;
}

describe("index facts of a stored key", () => {
  for (const name of ["ed25519-good.asc", "expiring-soon.asc", "direct-key-sig.asc", "ecdsa-p384.asc", "sha1-superseded.asc", "uid-mixed.asc", "subkeys-revoked-expired.asc"]) {
    it(`reads ${name} as openpgp.js does`, async () => {
      const canonical = await canonicalCopy(name);
      const key = await readKey({ binaryKey: canonical, config: inspectionConfig({ minRsaBits: 2048 }) });
      const expires = await key.getExpirationTime();
      assert.deepEqual(await keyIndexFacts(canonical), {
        algorithm: key.keyPacket.algorithm,
        bits: expectedBits(key.keyPacket.getAlgorithmInfo()),
        createdAt: key.keyPacket.created,
        expiresAt: expires instanceof Date ? expires : null,
      });
    });
  }

  it("finds an expiry at all (so the comparison above is not between two nulls only)", async () => {
    assert.ok((await keyIndexFacts(await canonicalCopy("expiring-soon.asc"))).expiresAt instanceof Date);
  });
});
