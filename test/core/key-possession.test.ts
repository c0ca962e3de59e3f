/**
 * Proof of possession: a detached signature over the agreement by the uploaded key's primary
 * or one of its kept signing subkeys (SECURITY.md: detached only; the signer must be the key).
 * Fixtures: test/fixtures/README.md; everything evaluated at NOW.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, it } from "node:test";
import { DEFAULT_KEY_POLICY, inspectKey, verifyPossession, type KeyPolicyOptions, type PossessionResult } from "../../src/core/key-policy.ts";
import { concatBytes, scanPackets, TAG, writePacket } from "../../src/core/key-policy/packets.ts";
import { readSignatureLayout, SUBPACKET, withUnhashedArea } from "../../src/core/key-policy/subpackets.ts";

const NOW = new Date("2026-01-01T00:00:00Z");
const OPTIONS: KeyPolicyOptions = { ...DEFAULT_KEY_POLICY, now: NOW };

const key = (name: string): Buffer => readFileSync(new URL(`../fixtures/keys/${name}`, import.meta.url));
const file = (name: string): Buffer => readFileSync(new URL(`../fixtures/files/${name}`, import.meta.url));
const agreement = file("agreement.pdf");

let alice: { minimal: Uint8Array; fingerprint: string; signingSubkey: string };

before(async () => {
  const result = await inspectKey(key("ed25519-good.asc"), OPTIONS);
  assert.ok(result.ok);
  const signingSubkey = result.facts.subkeys.find((subkey) => subkey.capabilities.includes("sign"))?.fingerprint;
  assert.ok(signingSubkey);
  alice = { minimal: result.minimal, fingerprint: result.facts.fingerprint, signingSubkey };
});

function refused(result: PossessionResult, code: string, message: RegExp): void {
  if (result.ok) assert.fail(`expected ${code}, but the signature was accepted`);
  assert.equal(result.problem.code, code, result.problem.message);
  assert.match(result.problem.message, message);
}

describe("verifyPossession accepts", () => {
  it("an armored detached signature by the primary", async () => {
    assert.deepEqual(await verifyPossession(alice.minimal, agreement, file("agreement.pdf.asc"), OPTIONS), { ok: true, signerFingerprint: alice.fingerprint });
  });

  it("a signature by the back-signed signing subkey, reporting the subkey", async () => {
    const result = await verifyPossession(alice.minimal, agreement, file("agreement.pdf.subkey.asc"), OPTIONS);
    assert.deepEqual(result, { ok: true, signerFingerprint: alice.signingSubkey });
  });

  it("a binary (non-armored) detached signature", async () => {
    assert.deepEqual(await verifyPossession(alice.minimal, agreement, file("agreement.pdf.sig"), OPTIONS), { ok: true, signerFingerprint: alice.fingerprint });
  });

  it("the uploaded (unstripped, armored) key as well as the minimal copy", async () => {
    const result = await verifyPossession(key("ed25519-good.asc"), agreement, file("agreement.pdf.asc"), OPTIONS);
    assert.equal(result.ok, true);
  });
});

describe("verifyPossession refuses", () => {
  it("a signature by another key, naming that key", async () => {
    const result = await verifyPossession(alice.minimal, agreement, file("agreement.pdf.other-key.asc"), OPTIONS);
    refused(result, "KEYSIGN_ERR_SIGNATURE_WRONG_KEY", /made by key [0-9A-F]{4}( [0-9A-F]{4}){9}, which is not this key/);
  });

  it("tampered data", async () => {
    const tampered = Buffer.from(agreement);
    tampered.writeUInt8(tampered.readUInt8(tampered.length - 2) ^ 0x01, tampered.length - 2);
    refused(await verifyPossession(alice.minimal, tampered, file("agreement.pdf.asc"), OPTIONS), "KEYSIGN_ERR_SIGNATURE_INVALID", /does not match this file/);
  });

  it("a valid signature over different bytes", async () => {
    refused(await verifyPossession(alice.minimal, agreement, file("other.txt.asc"), OPTIONS), "KEYSIGN_ERR_SIGNATURE_INVALID", /does not match this file/);
    assert.equal((await verifyPossession(alice.minimal, file("other.txt"), file("other.txt.asc"), OPTIONS)).ok, true);
  });

  it("an inline-signed message", async () => {
    const result = await verifyPossession(alice.minimal, agreement, file("agreement.pdf.inline.asc"), OPTIONS);
    refused(result, "KEYSIGN_ERR_SIGNATURE_NOT_DETACHED", /signed message.*only detached signatures/s);
  });

  it("a clear-signed message", async () => {
    const result = await verifyPossession(alice.minimal, agreement, file("agreement.pdf.clearsigned.asc"), OPTIONS);
    refused(result, "KEYSIGN_ERR_SIGNATURE_NOT_DETACHED", /clear-signed message; only detached signatures/);
  });

  it("an inline-signed binary message", async () => {
    const armored = file("agreement.pdf.inline.asc").toString("utf8");
    const body = Buffer.from(armored.split(/\r?\n\r?\n/)[1]?.split(/\n=|\n-----END/)[0]?.replace(/\s+/g, "") ?? "", "base64");
    refused(await verifyPossession(alice.minimal, agreement, body, OPTIONS), "KEYSIGN_ERR_SIGNATURE_NOT_DETACHED", /document inside/);
  });

  it("malformed signatures: random bytes, truncation, empty, a public key", async () => {
    const sig = file("agreement.pdf.sig");
    const cases: Array<[Uint8Array, RegExp]> = [
      [Buffer.from("definitely not a signature"), /could not be read/],
      [sig.subarray(0, sig.length - 5), /could not be read/],
      [new Uint8Array(), /the upload is empty/],
      [key("ed25519-good.asc"), /"PGP PUBLIC KEY BLOCK", not a signature/],
      [Buffer.concat([sig, sig]), /more than one packet/],
    ];
    for (const [bytes, message] of cases) {
      refused(await verifyPossession(alice.minimal, agreement, bytes, OPTIONS), "KEYSIGN_ERR_SIGNATURE_MALFORMED", message);
    }
  });

  it("a SHA-1 signature", async () => {
    refused(await verifyPossession(alice.minimal, agreement, file("agreement.pdf.sha1.asc"), OPTIONS), "KEYSIGN_ERR_SIGNATURE_WEAK_HASH", /uses SHA-1/);
  });

  it("a text-mode signature", async () => {
    refused(await verifyPossession(alice.minimal, agreement, file("agreement.pdf.textmode.asc"), OPTIONS), "KEYSIGN_ERR_SIGNATURE_TYPE", /binary/);
  });

  it("a signature dated after options.now", async () => {
    const early = { ...OPTIONS, now: new Date("2025-03-01T00:00:00Z") };
    refused(await verifyPossession(alice.minimal, agreement, file("agreement.pdf.asc"), early), "KEYSIGN_ERR_SIGNATURE_TIME", /in the future/);
  });

  it("a key that no longer passes the policy (expired at options.now)", async () => {
    const later = { ...OPTIONS, now: new Date("2031-01-01T00:00:00Z") };
    refused(await verifyPossession(alice.minimal, agreement, file("agreement.pdf.asc"), later), "KEYSIGN_ERR_KEY_EXPIRED", /expired/);
  });

  it("a subkey signature once the subkey's back-signature is gone (only kept subkeys sign)", async () => {
    const stripped = concatBytes(
      scanPackets(alice.minimal).packets.map((packet) => {
        const layout = packet.tag === TAG.signature ? readSignatureLayout(packet.body) : null;
        if (layout === null) return writePacket(packet.tag, packet.body);
        return writePacket(packet.tag, withUnhashedArea(layout, layout.unhashed.filter((sub) => sub.type !== SUBPACKET.embeddedSignature)));
      }),
    );
    const result = await verifyPossession(stripped, agreement, file("agreement.pdf.subkey.asc"), OPTIONS);
    refused(result, "KEYSIGN_ERR_SIGNATURE_WRONG_KEY", /not this key nor one of its signing subkeys/);
    assert.equal((await verifyPossession(stripped, agreement, file("agreement.pdf.asc"), OPTIONS)).ok, true);
  });

  it("a signature by a subkey that is not marked for signing", async () => {
    const result = await verifyPossession(key("rsa-encryption-subkey.asc"), agreement, file("agreement.pdf.encryption-subkey.asc"), OPTIONS);
    refused(result, "KEYSIGN_ERR_SIGNATURE_WRONG_KEY", /made by subkey [0-9A-F ]{49}, which is not marked for signing/);
  });

  it("secret key material uploaded as the signature", async () => {
    refused(await verifyPossession(alice.minimal, agreement, key("ed25519-good-secret.asc"), OPTIONS), "KEYSIGN_ERR_KEY_SECRET", /^secret key material detected; nothing was stored/);
  });
});
