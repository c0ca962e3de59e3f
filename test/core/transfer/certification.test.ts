/**
 * Every rule a returned certification or revocation must keep, one refusal per rule. Each
 * variant is signed for real by a master key with one thing changed from what the batch asked,
 * so the signature verifies and only that one thing is wrong.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as openpgp from "openpgp";
import { concatBytes, encodeLength, scanPackets, TAG, writePacket } from "../../../src/core/key-policy/packets.ts";
import { readSignatureLayout, type Subpacket } from "../../../src/core/key-policy/subpackets.ts";
import { storedSignatureBody } from "../../../src/core/transfer/subpacket-allowlist.ts";
import { inspectionConfig } from "../../../src/core/openpgp-config.ts";
import {
  checkCertification,
  checkRevocation,
  makeCertification,
  makeRevocation,
  userIdBytes,
  type ExpectedRevocation,
  type ExpectedSignature,
  type RuleFailure,
} from "../../../src/core/transfer/certification.ts";
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
  /** Raw subpackets added to the hashed area, covered by the signature. */
  hashed?: Subpacket[];
  /** Raw subpackets put in the unhashed area after signing. */
  unhashed?: Subpacket[];
  /** Rewrites the hashed area openpgp.js wrote, before it is signed. */
  rewrite?: (hashed: Subpacket[]) => Subpacket[];
}

/**
 * openpgp.js cannot write every subpacket type, nor a malformed one: the hashed area it wrote
 * is rewritten (and `extra` added) as raw bytes before it signs, so the signature covers them.
 */
function withRawHashed(signature: openpgp.SignaturePacket, extra: readonly Subpacket[], rewrite: (hashed: Subpacket[]) => Subpacket[] = (hashed) => hashed): void {
  // Not in openpgp.js's typings; sign() calls it to build the signed bytes.
  const writable = signature as unknown as { writeHashedSubPackets(): Uint8Array };
  const original = writable.writeHashedSubPackets.bind(signature);
  writable.writeHashedSubPackets = () => {
    const written = original();
    // Read back through the raw layout parser: a version 4 body around the written area.
    const layout = readSignatureLayout(concatBytes([new Uint8Array([4, 0x10, 22, 8]), written, new Uint8Array([0, 0, 0, 0])]));
    const area = concatBytes([...rewrite(layout!.hashed), ...extra].map(rawSubpacket));
    return concatBytes([new Uint8Array([area.length >> 8, area.length & 0xff]), area]);
  };
}

function rawSubpacket(subpacket: Subpacket): Uint8Array {
  return concatBytes([encodeLength(subpacket.body.length + 1), new Uint8Array([subpacket.type | (subpacket.critical ? 0x80 : 0)]), subpacket.body]);
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
  return signed(signature, signer, variant);
}

async function signed(signature: openpgp.SignaturePacket, signer: openpgp.PrivateKey, variant: Variant): Promise<Uint8Array> {
  withRawHashed(signature, variant.hashed ?? [], variant.rewrite);
  const data = { key: variant.key ?? target, userID: { write: () => userIdBytes(variant.userId ?? USER_ID) } };
  const sign = signature.sign.bind(signature) as (key: unknown, data: unknown, date: Date, detached: boolean, config: openpgp.Config) => Promise<void>;
  await sign(signer.keyPacket, data, signature.created ?? AT, false, { ...inspectionConfig({ minRsaBits: 2048 }), nonDeterministicSignaturesViaNotation: false });
  signature.unhashedSubpackets.push(...(variant.unhashed ?? []));
  return writePacket(TAG.signature, signature.write());
}

const SEALED = "Certification withdrawn by Example Org; the reason and date are at https://portal.example/keys/X";
const REVOCATION: ExpectedRevocation = { notBefore: AT, reason: SEALED };

/** What makeRevocation makes (reason code 0, the text asked for), with one thing changed before it is signed. */
async function revocation(variant: Variant & { reason?: [number, string] } = {}): Promise<Uint8Array> {
  const signer = variant.signer ?? master;
  const signature = new openpgp.SignaturePacket();
  signature.signatureType = openpgp.enums.signature.certRevocation;
  signature.publicKeyAlgorithm = signer.keyPacket.algorithm;
  signature.hashAlgorithm = openpgp.enums.hash.sha256;
  signature.issuerKeyVersion = 4;
  signature.created = AT;
  [signature.reasonForRevocationFlag, signature.reasonForRevocationString] = variant.reason ?? [0, SEALED];
  variant.edit?.(signature);
  return signed(signature, signer, variant);
}

async function revocationRefusedFor(packet: Uint8Array): Promise<RuleFailure> {
  const result = await checkRevocation(packet, expected, REVOCATION);
  assert.equal(result.ok, false, "the revocation should have been refused");
  return result.ok ? { rule: "", message: "" } : result.failure;
}

async function failureFor(packet: Uint8Array): Promise<RuleFailure> {
  const result = await checkCertification(packet, expected, PARAMETERS);
  assert.equal(result.ok, false, "the certification should have been refused");
  return result.ok ? { rule: "", message: "" } : result.failure;
}

const sub = (type: number, body: number[] | Uint8Array, critical = false): Subpacket => ({ type, critical, body: new Uint8Array(body) });

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
    const binary = (s: openpgp.SignaturePacket) => void (s.rawNotations = s.rawNotations.map((n) => ({ ...n, humanReadable: false })));
    assert.equal(await refusedFor(await certification({ edit: binary })), "notations");
  });

  it("target: refuses a certification over another user ID or another key", async () => {
    assert.equal(await refusedFor(await certification({ userId: "Alice <alice@evil.example>" })), "target");
    assert.equal(await refusedFor(await certification({ key: otherTarget })), "target");
  });
});

describe("checkRevocation", () => {
  it("accepts what makeRevocation makes, and the test's own builder unchanged", async () => {
    assert.equal((await checkRevocation(await makeRevocation(master, expected.target, SEALED, AT), expected, REVOCATION)).ok, true);
    assert.equal((await checkRevocation(await revocation(), expected, REVOCATION)).ok, true);
  });

  it("type, time: refuses a certification offered as a revocation, and a revocation in the second of what it revokes", async () => {
    assert.equal((await revocationRefusedFor(await certification())).rule, "subpacket", "a certification's expiry is not allowed in a revocation");
    assert.equal((await revocationRefusedFor(await revocation({ edit: (s) => void (s.signatureType = openpgp.enums.signature.certGeneric) }))).rule, "type");
    const sameSecond = await checkRevocation(await revocation(), expected, { ...REVOCATION, notBefore: new Date(AT.getTime() + 1000) });
    assert.equal(sameSecond.ok ? "" : sameSecond.failure.rule, "time");
  });

  it("reason: refuses a code other than 0, another text, or no reason at all", async () => {
    assert.match((await revocationRefusedFor(await revocation({ reason: [32, SEALED] }))).message, /reason code is 32/);
    assert.equal((await revocationRefusedFor(await revocation({ reason: [0, "sealed revocation"] }))).rule, "reason");
    assert.equal((await revocationRefusedFor(await revocation({ edit: (s) => void (s.reasonForRevocationFlag = null) }))).rule, "reason");
  });

  it("refuses a revocation by another key (issuer) or over another user ID (target)", async () => {
    assert.equal((await revocationRefusedFor(await revocation({ signer: other }))).rule, "issuer");
    assert.equal((await revocationRefusedFor(await revocation({ userId: "Eve <eve@example.org>" }))).rule, "target");
  });

  it("subpacket: a revocation carries who, when and why, nothing more", async () => {
    for (const [name, extra] of [
      ["signature expiration time", sub(3, [0, 0, 0, 60])],
      ["notation data", sub(20, [0x80, 0, 0, 0, 0, 1, 0, 1, 0x61, 0x62])],
      ["policy URI", sub(26, [...new TextEncoder().encode("https://x.example")])],
      ["trust signature", sub(5, [1, 120])],
    ] as const) {
      const failure = await revocationRefusedFor(await revocation({ hashed: [extra] }));
      assert.equal(failure.rule, "subpacket", name);
      assert.match(failure.message, new RegExp(`carries an? ${name} subpacket`), name);
    }
  });
});

/**
 * Issue: a GnuPG `tsign` certification (a trust signature) made one certified developer an
 * introducer for every install. Each type outside the allowlist is refused by name.
 */
describe("the subpacket allowlist of a certification", () => {
  const fingerprint = () => new Uint8Array([4, ...other.keyPacket.getFingerprintBytes()!]);
  const FORBIDDEN: ReadonlyArray<[string, number, () => number[] | Uint8Array]> = [
    ["exportable certification", 4, () => [0]],
    ["trust signature", 5, () => [1, 120]],
    ["regular expression", 6, () => [...new TextEncoder().encode("<[^>]+[@.]example\\.org>$"), 0]],
    ["revocable", 7, () => [0]],
    ["key expiration time", 9, () => [0, 0, 0x0e, 0x10]],
    ["preferred symmetric algorithms", 11, () => [9, 8, 7]],
    ["revocation key", 12, () => [0x80, 22, ...other.keyPacket.getFingerprintBytes()!]],
    ["preferred hash algorithms", 21, () => [10, 8]],
    ["preferred compression algorithms", 22, () => [2, 1]],
    ["key server preferences", 23, () => [0x80]],
    ["preferred key server", 24, () => [...new TextEncoder().encode("hkps://keys.example")]],
    ["primary user ID", 25, () => [1]],
    ["key flags", 27, () => [0x03]],
    ["signer's user ID", 28, () => [...new TextEncoder().encode("Master <master@example.org>")]],
    ["features", 30, () => [0x01]],
    ["embedded signature", 32, () => [4, 0x19, 22, 8, 0, 0, 0, 0, 0, 0]],
    ["intended recipient fingerprint", 35, () => fingerprint()],
    ["unknown subpacket type 100", 100, () => [1, 2, 3]],
  ];

  for (const [name, type, body] of FORBIDDEN) {
    it(`refuses a certification carrying a subpacket of type ${type} (${name}), naming it`, async () => {
      const failure = await failureFor(await certification({ hashed: [sub(type, body())] }));
      assert.equal(failure.rule, "subpacket");
      assert.match(failure.message, new RegExp(`carries an? ${name} subpacket \\(hashed area\\)`));
    });
  }

  it("refuses an unknown critical subpacket by name (openpgp.js could not even parse it)", async () => {
    const failure = await failureFor(await certification({ hashed: [sub(101, [1], true)] }));
    assert.deepEqual(failure, { rule: "subpacket", message: "it carries an unknown subpacket type 101 subpacket (hashed area), which a master signature from this portal never holds" });
  });

  it("refuses an allowed subpacket marked critical where readers need not know it, or given twice", async () => {
    const criticalNotation = (s: openpgp.SignaturePacket) => void (s.rawNotations = s.rawNotations.map((n) => ({ ...n, critical: true })));
    assert.match((await failureFor(await certification({ edit: criticalNotation }))).message, /its notation data subpacket is marked critical/);
    const policy = sub(26, [...new TextEncoder().encode(PARAMETERS.policyUrl)]);
    assert.match((await failureFor(await certification({ hashed: [policy] }))).message, /carries the policy URI subpacket more than once/);
    assert.match((await failureFor(await certification({ hashed: [{ ...policy, critical: true }] }))).message, /policy URI subpacket is marked critical/);
  });

  it("lets the unhashed area hold only the issuer, naming the master", async () => {
    const notation = sub(20, [0x80, 0, 0, 0, 0, 1, 0, 1, 0x61, 0x62]);
    assert.match((await failureFor(await certification({ unhashed: [notation] }))).message, /carries a notation data subpacket \(unhashed area\)/);
    assert.match((await failureFor(await certification({ unhashed: [sub(32, [4])] }))).message, /embedded signature subpacket \(unhashed area\)/);
    const otherKeyId = sub(16, other.keyPacket.getFingerprintBytes()!.subarray(12));
    assert.equal((await failureFor(await certification({ unhashed: [otherKeyId] }))).rule, "issuer");
    assert.equal((await failureFor(await certification({ unhashed: [sub(33, fingerprint())] }))).rule, "issuer");
  });

  it("stores the signed bytes as made, with nothing in the unhashed area but the issuer key ID", async () => {
    const masterKeyId = master.keyPacket.getFingerprintBytes()!.subarray(12);
    const returned = await certification({ unhashed: [sub(16, masterKeyId), sub(33, new Uint8Array([4, ...master.keyPacket.getFingerprintBytes()!]))] });
    const checked = await checkCertification(returned, expected, PARAMETERS);
    assert.ok(checked.ok);
    const stored = readSignatureLayout(scanPackets(checked.packet).packets[0]!.body)!;
    const given = readSignatureLayout(scanPackets(returned).packets[0]!.body)!;
    assert.deepEqual(stored.signedPrefix, given.signedPrefix);
    assert.deepEqual(given.unhashed.map((s) => s.type), [16, 33]);
    // openpgp.js names the issuer key ID in the hashed area, so nothing stays unhashed.
    assert.deepEqual(stored.unhashed, []);
    // GnuPG names it only in the unhashed area; the stored copy keeps exactly that one.
    const withoutHashedKeyId = { ...given, hashed: given.hashed.filter((s) => s.type !== 16) };
    const rebuilt = readSignatureLayout(storedSignatureBody(withoutHashedKeyId, masterKeyId))!;
    assert.deepEqual(rebuilt.unhashed.map((s) => [s.type, [...s.body]]), [[16, [...masterKeyId]]]);
  });

  /** Replaces every subpacket of `type` with `body`. */
  const replacing = (type: number, body: (old: Uint8Array) => Uint8Array) => (hashed: Subpacket[]) => hashed.map((s) => (s.type === type ? { ...s, body: body(s.body) } : s));

  it("refuses fixed-size subpackets of another length: an over-long time is one date to openpgp.js and another to GnuPG", async () => {
    // 00 ‖ T: openpgp.js reads T, GnuPG reads T >> 8, a date in 1970, and ignores the revocation.
    const longCreated = replacing(2, (old) => concatBytes([new Uint8Array([0]), old]));
    assert.match((await revocationRefusedFor(await revocation({ rewrite: longCreated }))).message, /its signature creation time subpacket is 5 bytes long, not 4/);
    assert.equal((await failureFor(await certification({ rewrite: longCreated }))).rule, "subpacket");
    // 00 00 00 00 ‖ expiry: GnuPG sees no expiry where the batch asked for one.
    const longExpiry = replacing(3, (old) => concatBytes([new Uint8Array(4), old]));
    assert.match((await failureFor(await certification({ rewrite: longExpiry }))).message, /its signature expiration time subpacket is 8 bytes long, not 4/);
    const shortFingerprint = replacing(33, (old) => old.subarray(0, 20));
    assert.match((await failureFor(await certification({ rewrite: shortFingerprint }))).message, /issuer fingerprint subpacket is 20 bytes long, not 21/);
  });

  it("refuses a hash GnuPG 2.2 cannot check (SHA-3) and any certification type but generic (0x10)", async () => {
    assert.equal((await failureFor(await certification({ edit: (s) => void (s.hashAlgorithm = openpgp.enums.hash.sha3_256) }))).rule, "hash");
    assert.equal((await revocationRefusedFor(await revocation({ edit: (s) => void (s.hashAlgorithm = openpgp.enums.hash.sha3_512) }))).rule, "hash");
    const positive = await failureFor(await certification({ edit: (s) => void (s.signatureType = openpgp.enums.signature.certPersona) }));
    assert.deepEqual(positive, { rule: "type", message: "it is a signature of type 0x11, not a generic certification (0x10)" });
  });

  it("compares notations byte for byte: no other flags, no bytes after the value", async () => {
    const flags = replacing(20, (old) => concatBytes([new Uint8Array([0xff, 0xff, 0xff, 0xff]), old.subarray(4)]));
    assert.equal((await failureFor(await certification({ rewrite: flags }))).rule, "notations");
    const trailing = replacing(20, (old) => concatBytes([old, new Uint8Array([2, 5, 1, 120, 0])]));
    assert.equal((await failureFor(await certification({ rewrite: trailing }))).rule, "notations");
    const policy = replacing(26, (old) => concatBytes([old, new Uint8Array([0])]));
    assert.equal((await failureFor(await certification({ rewrite: policy }))).rule, "policy");
  });
});
