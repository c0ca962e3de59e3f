/**
 * The canonical copy is what FreePBX installs (GnuPG 2.2) will import: it must keep the same
 * fingerprint, carry exactly the chosen user IDs and subkeys, and every self-signature must
 * check as good in GnuPG. Each key is imported into a fresh throwaway home directory.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { canonicalizeKey, DEFAULT_KEY_POLICY, inspectKey, type CanonicalKey, type KeyPolicyOptions } from "../../src/core/key-policy.ts";
import { concatBytes, scanPackets, TAG, writePacket } from "../../src/core/key-policy/packets.ts";
import { readSignatureLayout, SUBPACKET, withUnhashedArea } from "../../src/core/key-policy/subpackets.ts";
import { colonRecords, unescapeColonField, withGpgHome } from "../helpers/gpg.ts";

const NOW = new Date("2026-01-01T00:00:00Z");
const OPTIONS: KeyPolicyOptions = { ...DEFAULT_KEY_POLICY, now: NOW };
const key = (name: string): Buffer => readFileSync(new URL(`../fixtures/keys/${name}`, import.meta.url));

interface GpgView {
  fingerprints: string[];
  userIds: string[];
  /** Validity column of each signature record from --check-sigs: "!" is good. */
  signatureChecks: string[];
}

/** Imports into a fresh home with GnuPG's clock at NOW and lists what it kept. */
async function importIntoGpg(binary: Uint8Array): Promise<GpgView> {
  return withGpgHome(async (gpg) => {
    await gpg.run(["--import"], { input: binary, at: NOW });
    const records = colonRecords(await gpg.ok(["--with-colons", "--fixed-list-mode", "--check-sigs"], { at: NOW }));
    return {
      fingerprints: records.filter((record) => record[0] === "fpr").map((record) => record[9] ?? ""),
      userIds: records.filter((record) => record[0] === "uid").map((record) => unescapeColonField(record[9] ?? "")),
      signatureChecks: records.filter((record) => record[0] === "sig").map((record) => record[1] ?? ""),
    };
  });
}

async function canonical(name: string, pick?: (userIds: string[]) => string[]): Promise<{ result: CanonicalKey; subkeys: string[] }> {
  const inspected = await inspectKey(key(name), OPTIONS);
  if (!inspected.ok) assert.fail(JSON.stringify(inspected.problems));
  const all = inspected.facts.userIds.map((user) => user.userId);
  const result = await canonicalizeKey(inspected.minimal, pick ? pick(all) : all, OPTIONS);
  return { result, subkeys: inspected.facts.subkeys.map((subkey) => subkey.fingerprint) };
}

async function assertGpgAgrees(name: string, pick?: (userIds: string[]) => string[]): Promise<void> {
  const { result, subkeys } = await canonical(name, pick);
  const view = await importIntoGpg(result.binary);
  assert.deepEqual(view.fingerprints, [result.fingerprint, ...subkeys], "same primary and subkey fingerprints");
  assert.deepEqual(view.userIds, result.userIds, "exactly the requested user IDs");
  const direct = scanPackets(result.binary).packets[1]?.tag === TAG.signature ? 1 : 0;
  assert.equal(view.signatureChecks.length, direct + result.userIds.length + subkeys.length, "one self-signature per user ID and subkey");
  assert.ok(view.signatureChecks.every((check) => check === "!"), `all self-signatures good: ${view.signatureChecks.join(",")}`);
}

describe("GnuPG imports the canonical copy", () => {
  it("of the good Ed25519 key with one of its two user IDs", async () => {
    await assertGpgAgrees("ed25519-good.asc", (userIds) => userIds.slice(1));
  });

  it("of the good Ed25519 key with both user IDs (armored output too)", async () => {
    const { result } = await canonical("ed25519-good.asc");
    const view = await importIntoGpg(Buffer.from(result.armored));
    assert.deepEqual(view.userIds, result.userIds);
    assert.ok(view.signatureChecks.every((check) => check === "!"));
  });

  const accepted = [
    "rsa3072.asc",
    "rsa2048.asc",
    "ecdsa-p256.asc",
    "ecdsa-p384.asc",
    "ecdsa-p521.asc",
    "cert-only-primary.asc",
    "sha1-superseded.asc",
    "third-party-certified.asc",
    "photo.asc",
    "unbound-uid.asc",
    "uid-revoked.asc",
    "uid-mixed.asc",
    "subkey-no-backsig.asc",
    "subkeys-revoked-expired.asc",
    "direct-key-sig.asc",
  ];
  for (const name of accepted) {
    it(`of ${name}`, async () => {
      await assertGpgAgrees(name);
    });
  }
});

describe("why the canonical copy regenerates the unhashed Issuer subpacket", () => {
  it("GnuPG 2.2 skips a key whose self-signatures carry only the hashed issuer fingerprint", async () => {
    const { result } = await canonical("ed25519-good.asc");
    const withoutIssuer = concatBytes(
      scanPackets(result.binary).packets.map((packet) => {
        const layout = packet.tag === TAG.signature ? readSignatureLayout(packet.body) : null;
        if (layout === null) return writePacket(packet.tag, packet.body);
        return writePacket(packet.tag, withUnhashedArea(layout, layout.unhashed.filter((sub) => sub.type !== SUBPACKET.issuerKeyId)));
      }),
    );
    const view = await importIntoGpg(withoutIssuer);
    assert.deepEqual(view.userIds, [], "without it GnuPG finds no self-signed user ID");
  });
});
