/**
 * Every rule a returned certification or revocation must keep, one refusal per rule. Each
 * variant is signed for real by a master key with one thing changed from what the batch asked.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as openpgp from "openpgp";
import { writePacket, TAG, concatBytes } from "../../../src/core/key-policy/packets.ts";
import { inspectionConfig } from "../../../src/core/openpgp-config.ts";
import { checkCertification, checkRevocation, makeCertification, makeRevocation, userIdBytes, type ExpectedSignature } from "../../../src/core/transfer/certification.ts";
import type { CertificationParameters } from "../../../src/core/transfer/formats.ts";
import { makeTestKey } from "../../helpers/keys.ts";
import { makeMasterKey } from "../../helpers/transfer.ts";

const AT = new Date("2026-11-24T12:01:00Z");
const USER_ID = "Alice <alice@example.org>";
const PARAMETERS: CertificationParameters = {
  validityDays: 730,
  policyUrl: "https://keysign.example.org/policy",
  notations: [
    { name: "request@keysign.example.org", value: "r-1" },
    { name: "batch@keysign.example.org", value: "7" },
  ],
};

let master: openpgp.PrivateKey;
let other: openpgp.PrivateKey;
let target: openpgp.PublicKeyPacket;
let otherTarget: openpgp.PublicKeyPacket;
let expected: ExpectedSignature;

before(async () => {
  const date = new Date("2026-01-01T00:00:00Z");
  [master, other] = (await Promise.all([makeMasterKey({ date }), makeMasterKey({ date })])).map((key) => key.privateKey) as [openpgp.PrivateKey, openpgp.PrivateKey];
  const [alice, bob] = await Promise.all([makeTestKey([{ name: "Alice", email: "alice@example.org" }]), makeTestKey([{ name: "Bob", email: "bob@example.org" }])]);
  target = (await openpgp.readKey({ armoredKey: alice.publicArmored })).keyPacket as openpgp.PublicKeyPacket;
  otherTarget = (await openpgp.readKey({ armoredKey: bob.publicArmored })).keyPacket as openpgp.PublicKeyPacket;
  expected = {
    master: master.toPublic(),
    target: { key: target, userId: userIdBytes(USER_ID) },
    notBefore: new Date("2026-11-24T12:00:00Z"),
    notAfter: new Date("2026-12-08T12:00:00Z"),
    config: inspectionConfig({ minRsaBits: 2048 }),
  };
});

interface Variant {
  edit?: (signature: openpgp.SignaturePacket) => void;
  signer?: openpgp.PrivateKey;
  key?: openpgp.PublicKeyPacket;
  userId?: string;
}

/** What makeCertification makes, with one thing changed before it is signed. */
async function certification(variant: Variant = {}): Promise<Uint8Array> {
  const signer = variant.signer ?? master;
  const signature = new openpgp.SignaturePacket();
  signature.signatureType = openpgp.enums.signature.certGeneric;
  signature.publicKeyAlgorithm = signer.keyPacket.algorithm;
  signature.hashAlgorithm = openpgp.enums.hash.sha256;
  signature.issuerKeyVersion = 4;
  signature.issuerFingerprint = signer.keyPacket.getFingerprintBytes();
  signature.issuerKeyID = signer.getKeyID();
  signature.created = AT;
  signature.signatureExpirationTime = PARAMETERS.validityDays * 86_400;
  signature.policyURI = PARAMETERS.policyUrl;
  signature.rawNotations = PARAMETERS.notations.map(({ name, value }) => ({ name, value: userIdBytes(value), humanReadable: true, critical: false }));
  variant.edit?.(signature);
  const data = { key: variant.key ?? target, userID: { write: () => userIdBytes(variant.userId ?? USER_ID) } };
  const sign = signature.sign.bind(signature) as (key: unknown, data: unknown, date: Date, detached: boolean, config: openpgp.Config) => Promise<void>;
  await sign(signer.keyPacket, data, signature.created ?? AT, false, { ...inspectionConfig({ minRsaBits: 2048 }), nonDeterministicSignaturesViaNotation: false });
  return writePacket(TAG.signature, signature.write());
}

async function refusedFor(packet: Uint8Array): Promise<string> {
  const result = await checkCertification(packet, expected, PARAMETERS);
  assert.equal(result.ok, false, "the certification should have been refused");
  return result.ok ? "" : result.failure.rule;
}

describe("checkCertification", () => {
  it("accepts what makeCertification makes, and the test's own builder unchanged", async () => {
    const made = await makeCertification(master, expected.target, PARAMETERS, AT);
    assert.equal((await checkCertification(made, expected, PARAMETERS)).ok, true);
    assert.equal((await checkCertification(await certification(), expected, PARAMETERS)).ok, true);
  });

  it("packet: refuses damaged bytes and two packets", async () => {
    const good = await certification();
    assert.equal(await refusedFor(good.subarray(0, good.length - 5)), "packet");
    assert.equal(await refusedFor(concatBytes([good, good])), "packet");
  });

  it("type: refuses a revocation where a certification belongs", async () => {
    assert.equal(await refusedFor(await certification({ edit: (s) => void (s.signatureType = openpgp.enums.signature.certRevocation) })), "type");
  });

  it("issuer: refuses a certification by another key", async () => {
    assert.equal(await refusedFor(await certification({ signer: other })), "issuer");
  });

  it("exportable: refuses a local signature", async () => {
    assert.equal(await refusedFor(await certification({ edit: (s) => void (s.exportable = false) })), "exportable");
  });

  it("revocable: refuses an irrevocable certification", async () => {
    assert.equal(await refusedFor(await certification({ edit: (s) => void (s.revocable = false) })), "revocable");
  });

  it("critical: refuses a critical subpacket GnuPG would not accept", async () => {
    const edit = (s: openpgp.SignaturePacket) => void (s.rawNotations = s.rawNotations.map((n) => ({ ...n, critical: true })));
    assert.equal(await refusedFor(await certification({ edit })), "critical");
  });

  it("time: refuses a certification made before the batch or after its window", async () => {
    assert.equal(await refusedFor(await certification({ edit: (s) => void (s.created = new Date("2026-11-24T11:59:59Z")) })), "time");
    assert.equal(await refusedFor(await certification({ edit: (s) => void (s.created = new Date("2026-12-08T12:00:01Z")) })), "time");
  });

  it("expiry, policy, notations: refuses parameters other than the batch's", async () => {
    assert.equal(await refusedFor(await certification({ edit: (s) => void (s.signatureExpirationTime = 3650 * 86_400) })), "expiry");
    assert.equal(await refusedFor(await certification({ edit: (s) => void (s.signatureExpirationTime = null) })), "expiry");
    assert.equal(await refusedFor(await certification({ edit: (s) => void (s.policyURI = "https://evil.example/policy") })), "policy");
    assert.equal(await refusedFor(await certification({ edit: (s) => void s.rawNotations.pop() })), "notations");
    const renamed = (s: openpgp.SignaturePacket) => void (s.rawNotations = s.rawNotations.map((n) => ({ ...n, value: userIdBytes("r-2") })));
    assert.equal(await refusedFor(await certification({ edit: renamed })), "notations");
  });

  it("target: refuses a certification over another user ID or another key", async () => {
    assert.equal(await refusedFor(await certification({ userId: "Alice <alice@evil.example>" })), "target");
    assert.equal(await refusedFor(await certification({ key: otherTarget })), "target");
  });
});

describe("checkRevocation", () => {
  it("accepts what makeRevocation makes, no earlier than the certification", async () => {
    const revocation = await makeRevocation(master, expected.target, "sealed", AT);
    assert.equal((await checkRevocation(revocation, expected, AT)).ok, true);
  });

  it("refuses a certification offered as a revocation (type) and a revocation older than its certification (time)", async () => {
    const asRevocation = await checkRevocation(await certification(), expected, AT);
    assert.equal(asRevocation.ok ? "" : asRevocation.failure.rule, "type");
    const revocation = await makeRevocation(master, expected.target, "sealed", AT);
    const older = await checkRevocation(revocation, expected, new Date(AT.getTime() + 1000));
    assert.equal(older.ok ? "" : older.failure.rule, "time");
  });

  it("refuses a revocation by another key (issuer) or over another user ID (target)", async () => {
    const byOther = await checkRevocation(await makeRevocation(other, expected.target, "x", AT), expected, AT);
    assert.equal(byOther.ok ? "" : byOther.failure.rule, "issuer");
    const elsewhere = await checkRevocation(await makeRevocation(master, { key: target, userId: userIdBytes("Eve <eve@example.org>") }, "x", AT), expected, AT);
    assert.equal(elsewhere.ok ? "" : elsewhere.failure.rule, "target");
  });
});
