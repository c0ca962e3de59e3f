/**
 * Owner updates: each rule of the merge, with the upload made by openpgp.js as an owner would
 * (reformatKey for a new expiry, addSubkey, revocations) or built signature by signature.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as openpgp from "openpgp";
import { canonicalizeKey, inspectKey } from "../../src/core/key-policy.ts";
import { readUpload } from "../../src/core/key-policy/intake.ts";
import { concatBytes, scanPackets, TAG, writePacket, type Packet } from "../../src/core/key-policy/packets.ts";
import { inspectionConfig } from "../../src/core/openpgp-config.ts";
import { unionCanonical } from "../../src/core/publication/canonical-union.ts";
import { describeChange, describeStripped, mergeOwnerUpdate, NOT_CERTIFIED_MESSAGE, type OwnerUpdateResult } from "../../src/core/publication/owner-update.ts";

const CREATED = new Date("2026-01-01T00:00:00Z");
const NOW = new Date("2026-06-01T00:00:00Z");
const LATER = new Date("2026-05-01T00:00:00Z");
const YEAR = 365 * 86_400;
const USER = { name: "Dev", email: "dev@example.org" };
const USER_ID = "Dev <dev@example.org>";
const config = inspectionConfig({ minRsaBits: 2048 });
const options = { now: NOW, minRsaBits: 2048 };

interface Owner {
  privateKey: openpgp.PrivateKey;
  published: Uint8Array;
}

/** A certified key and its published copy; RSA only where a test needs what EdDSA cannot sign (SHA-1). */
async function owner(type: "ecc" | "rsa" = "ecc"): Promise<Owner> {
  const algorithm = type === "rsa" ? { type, rsaBits: 2048 } : { type, curve: "ed25519Legacy" as const };
  const { privateKey } = await openpgp.generateKey({ ...algorithm, userIDs: [USER], date: CREATED, keyExpirationTime: YEAR, subkeys: [{}], format: "object" });
  const inspected = await inspectKey(privateKey.toPublic().write(), options);
  assert.ok(inspected.ok);
  const canonical = await canonicalizeKey(inspected.minimal, [USER_ID], options);
  return { privateKey, published: canonical.binary };
}

async function packetsOf(upload: Uint8Array): Promise<Packet[]> {
  const intake = await readUpload(upload, config);
  assert.ok(intake.ok, intake.ok ? "" : intake.problem.message);
  return intake.packets;
}

async function merge(published: Uint8Array, upload: Uint8Array): Promise<OwnerUpdateResult> {
  return mergeOwnerUpdate(published, await packetsOf(upload), options, config);
}

function merged(result: OwnerUpdateResult): Extract<OwnerUpdateResult, { kind: "merged" }> {
  assert.equal(result.kind, "merged", result.kind === "refused" ? result.problem.message : "no change");
  if (result.kind !== "merged") throw new Error("not merged");
  return result;
}

/** A signature by the owner's primary key, built field by field (what no library helper makes). */
async function ownerSignature(key: openpgp.PrivateKey, type: number, data: object, date: Date, fields: (signature: openpgp.SignaturePacket) => void = () => undefined): Promise<Uint8Array> {
  const signature = new openpgp.SignaturePacket();
  signature.signatureType = type;
  signature.publicKeyAlgorithm = key.keyPacket.algorithm;
  signature.hashAlgorithm = openpgp.enums.hash.sha256;
  fields(signature);
  await signWithConfig(signature, key, data, date);
  return writePacket(TAG.signature, signature.write());
}

/** `SignaturePacket.sign` as openpgp.js 6 defines it: for key signatures `data` is the key, user ID or subkey, and it needs a config. */
async function signWithConfig(signature: openpgp.SignaturePacket, key: openpgp.PrivateKey, data: object, date: Date): Promise<void> {
  const sign = signature.sign as unknown as (key: openpgp.SecretKeyPacket, data: object, date: Date, detached: boolean, config: openpgp.Config) => Promise<void>;
  await sign.call(signature, key.keyPacket as openpgp.SecretKeyPacket, data, date, false, { ...openpgp.config, nonDeterministicSignaturesViaNotation: false });
}

function tags(bytes: Uint8Array): number[] {
  return scanPackets(bytes).packets.map((packet) => (packet.tag === TAG.signature ? 0x100 + (packet.body[1] ?? 0) : packet.tag));
}

describe("owner updates: merging into the published key", () => {
  it("merges an extended expiry, replaces the self-signatures and is deterministic and monotonic", async () => {
    const { privateKey, published } = await owner();
    const renewed = await openpgp.reformatKey({ privateKey, userIDs: [USER], keyExpirationTime: 3 * YEAR, date: LATER, format: "object" });
    const result = merged(await merge(published, renewed.publicKey.write()));
    assert.deepEqual(result.summary.changes[0], { kind: "expiry", from: "2027-01-01T00:00:00.000Z", to: "2028-12-31T00:00:00.000Z" });
    assert.match(describeChange(result.summary.changes[0]!), /now expires on 2028-12-31 \(before: 2027-01-01\)/);
    const inspected = await inspectKey(result.canonicalKey, options);
    assert.ok(inspected.ok);
    assert.equal(inspected.facts.expiresAt?.toISOString(), "2028-12-31T00:00:00.000Z");
    assert.deepEqual(tags(result.canonicalKey), tags(published), "one self-signature per component, as before");
    assert.deepEqual(merged(await merge(published, renewed.publicKey.write())).canonicalKey, result.canonicalKey, "the same inputs give the same bytes");
    assert.equal((await merge(result.canonicalKey, renewed.publicKey.write())).kind, "unchanged", "sending it again changes nothing");
    assert.equal((await merge(result.canonicalKey, privateKey.toPublic().write())).kind, "unchanged", "the older self-signature does not come back");
  });

  it("adds a new encryption subkey and a new signing subkey with its back-signature", async () => {
    const { privateKey, published } = await owner();
    const withSubkeys = await (await privateKey.addSubkey({ date: LATER })).addSubkey({ sign: true, date: LATER });
    const result = merged(await merge(published, withSubkeys.toPublic().write()));
    const added = result.summary.changes.filter((change) => change.kind === "subkey-added");
    assert.equal(added.length, 2);
    const inspected = await inspectKey(result.canonicalKey, options);
    assert.ok(inspected.ok);
    assert.equal(inspected.facts.subkeys.length, 3, "intake keeps all three, back-signature included");
    assert.ok(inspected.facts.subkeys.some((subkey) => subkey.capabilities.includes("sign")));
  });

  it("fails if a signing subkey without a back-signature is merged", async () => {
    const { privateKey, published } = await owner();
    const withSigning = await privateKey.addSubkey({ sign: true, date: LATER });
    const subkey = withSigning.subkeys[1]!;
    const publicSubkey = scanPackets(withSigning.toPublic().write()).packets.filter((packet) => packet.tag === TAG.publicSubkey)[1]!;
    const binding = await ownerSignature(privateKey, openpgp.enums.signature.subkeyBinding, { key: privateKey.keyPacket, bind: subkey.keyPacket }, LATER, (signature) => {
      signature.keyFlags = new Uint8Array([openpgp.enums.keyFlags.signData]);
    });
    const upload = concatBytes([privateKey.toPublic().write(), writePacket(TAG.publicSubkey, publicSubkey.body), binding]);
    const result = await merge(published, upload);
    assert.equal(result.kind, "unchanged");
    assert.equal(result.summary.stripped.subkeys, 1);
    assert.match(describeStripped(result.summary.stripped) ?? "", /1 subkey\(s\) without a valid binding/);
  });

  it("fails if a third party's certification is merged", async () => {
    const { privateKey, published } = await owner();
    const { privateKey: other } = await openpgp.generateKey({ type: "ecc", curve: "ed25519Legacy", userIDs: [{ email: "other@example.org" }], date: CREATED, format: "object" });
    const signed = await privateKey.toPublic().signAllUsers([other], LATER);
    const result = await merge(published, signed.write());
    assert.equal(result.kind, "unchanged");
    assert.equal(result.summary.stripped.signatures, 1);
  });

  it("fails if a signature that only claims to be the owner's is merged", async () => {
    const { privateKey, published } = await owner();
    const { privateKey: other } = await openpgp.generateKey({ type: "ecc", curve: "ed25519Legacy", userIDs: [{ email: "other@example.org" }], date: CREATED, format: "object" });
    // Made by another key, but naming the owner's key as issuer in the hashed area.
    const forged = new openpgp.SignaturePacket();
    forged.signatureType = openpgp.enums.signature.keyRevocation;
    forged.publicKeyAlgorithm = other.keyPacket.algorithm;
    forged.hashAlgorithm = openpgp.enums.hash.sha256;
    await signWithConfig(forged, other, { key: privateKey.keyPacket }, LATER);
    forged.issuerKeyID = privateKey.getKeyID();
    forged.issuerFingerprint = privateKey.keyPacket.getFingerprintBytes();
    const resigned = forged.write();
    const publicBytes = privateKey.toPublic().write();
    const primary = scanPackets(publicBytes).packets[0]!;
    const rest = publicBytes.subarray(writePacket(TAG.publicKey, primary.body).length);
    const result = await merge(published, concatBytes([writePacket(TAG.publicKey, primary.body), writePacket(TAG.signature, resigned), rest]));
    assert.equal(result.kind, "unchanged");
    assert.ok(!result.summary.changes.some((change) => change.kind === "key-revoked"));
  });

  it("fails if a new user ID is merged; the known user ID's newer self-signature is", async () => {
    const { privateKey, published } = await owner();
    const renamed = await openpgp.reformatKey({ privateKey, userIDs: [USER, { name: "Dev", email: "new@example.org" }], keyExpirationTime: YEAR, date: LATER, format: "object" });
    const result = merged(await merge(published, renamed.publicKey.write()));
    assert.equal(result.summary.stripped.userIds, 1);
    assert.ok(!Buffer.from(result.canonicalKey).includes("new@example.org"));
    assert.deepEqual(result.summary.changes.map((change) => change.kind).filter((kind) => kind !== "subkey-renewed"), ["self-signature-renewed"]);
  });

  it("fails if a user attribute (photo ID) is merged", async () => {
    const { privateKey, published } = await owner();
    const photo = writePacket(TAG.userAttribute, new Uint8Array([0x10, 0x01, 0x10, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xd8]));
    const selfSignature = await ownerSignature(privateKey, openpgp.enums.signature.certPositive, { key: privateKey.keyPacket, userAttribute: { write: () => photo.subarray(2) } }, LATER);
    const result = await merge(published, concatBytes([privateKey.toPublic().write(), photo, selfSignature]));
    assert.equal(result.kind, "unchanged");
    assert.equal(result.summary.stripped.userAttributes, 1);
  });

  it("merges the owner's revocation of the key, and never withdraws it", async () => {
    const { privateKey, published } = await owner();
    const { publicKey: revoked } = await openpgp.revokeKey({ key: privateKey, date: LATER, format: "binary" });
    const result = merged(await merge(published, revoked));
    assert.deepEqual(result.summary.changes, [{ kind: "key-revoked" }]);
    assert.equal((await inspectKey(result.canonicalKey, options)).ok, false, "intake sees a revoked key");
    assert.equal((await merge(result.canonicalKey, privateKey.toPublic().write())).kind, "unchanged");
    assert.deepEqual(unionCanonical(published, result.canonicalKey), result.canonicalKey, "a renewal's copy without it keeps it");
    assert.deepEqual(unionCanonical(result.canonicalKey, published), result.canonicalKey);
  });

  it("merges the owner's revocation of a subkey and of a published user ID", async () => {
    const { privateKey, published } = await owner();
    const key = await openpgp.readPrivateKey({ binaryKey: privateKey.write() });
    key.subkeys[0] = await key.subkeys[0]!.revoke(key.keyPacket as openpgp.SecretKeyPacket, undefined, LATER);
    key.users[0] = await key.users[0]!.revoke(key.keyPacket as openpgp.SecretKeyPacket, undefined, LATER);
    const result = merged(await merge(published, key.toPublic().write()));
    assert.deepEqual(result.summary.changes.map((change) => change.kind).sort(), ["subkey-revoked", "user-id-revoked"]);
    assert.deepEqual(tags(result.canonicalKey), [TAG.publicKey, TAG.userId, 0x113, 0x130, TAG.publicSubkey, 0x118, 0x128]);
  });

  it("fails if a self-signature adding a designated revoker (outside the subpacket allowlist) is merged", async () => {
    const { privateKey, published } = await owner();
    const { privateKey: other } = await openpgp.generateKey({ type: "ecc", curve: "ed25519Legacy", userIDs: [{ email: "other@example.org" }], date: CREATED, format: "object" });
    const direct = await ownerSignature(privateKey, openpgp.enums.signature.key, { key: privateKey.keyPacket }, LATER, (signature) => {
      signature.revocationKeyClass = 0x80;
      signature.revocationKeyAlgorithm = other.keyPacket.algorithm;
      signature.revocationKeyFingerprint = other.keyPacket.getFingerprintBytes();
    });
    const publicBytes = privateKey.toPublic().write();
    const primary = writePacket(TAG.publicKey, scanPackets(publicBytes).packets[0]!.body);
    const result = await merge(published, concatBytes([primary, direct, publicBytes.subarray(primary.length)]));
    assert.equal(result.kind, "unchanged");
    assert.equal(result.summary.stripped.signatures, 1);
  });

  it("fails if a newer self-signature with a weak hash (SHA-1) is merged", async () => {
    const { privateKey, published } = await owner("rsa");
    const userId = privateKey.users[0]!.userID!;
    const weak = await ownerSignature(privateKey, openpgp.enums.signature.certPositive, { key: privateKey.keyPacket, userID: userId }, LATER, (signature) => {
      signature.hashAlgorithm = openpgp.enums.hash.sha1;
      signature.keyExpirationTime = 3 * YEAR;
      signature.keyFlags = new Uint8Array([openpgp.enums.keyFlags.certifyKeys | openpgp.enums.keyFlags.signData]);
    });
    const publicBytes = privateKey.toPublic().write();
    const packets = scanPackets(publicBytes).packets;
    const upload = concatBytes([...packets.slice(0, 3).map((packet) => writePacket(packet.tag, packet.body)), weak, ...packets.slice(3).map((packet) => writePacket(packet.tag, packet.body))]);
    const result = await merge(published, upload);
    assert.equal(result.kind, "unchanged");
    assert.equal(result.summary.stripped.signatures, 1);
  });

  it("fails if a self-signature that does not verify is merged", async () => {
    const { privateKey, published } = await owner();
    const renewed = await openpgp.reformatKey({ privateKey, userIDs: [USER], keyExpirationTime: 3 * YEAR, date: LATER, format: "binary" });
    const packets = scanPackets(renewed.publicKey).packets.map((packet, index) => {
      if (index !== 2) return writePacket(packet.tag, packet.body);
      const body = Uint8Array.from(packet.body);
      body[body.length - 1] = (body.at(-1) ?? 0) ^ 0xff;
      return writePacket(packet.tag, body);
    });
    const result = await merge(published, concatBytes(packets));
    assert.ok(!(result.kind === "merged" && result.summary.changes.some((change) => change.kind === "expiry")), "the expiry did not change");
  });

  it("fails if more subkeys than the key policy's limit are merged", async () => {
    const { privateKey, published } = await owner();
    let key = privateKey;
    for (let i = 0; i < 7; i++) key = await key.addSubkey({ date: new Date(LATER.getTime() + i * 1000) });
    const full = merged(await merge(published, key.toPublic().write()));
    assert.equal(full.summary.changes.filter((change) => change.kind === "subkey-added").length, 7);
    assert.equal(scanPackets(full.canonicalKey).packets.filter((packet) => packet.tag === TAG.publicSubkey).length, 8);
    // Sent on its own: intake's bound counts the upload, the merge counts what is published.
    const ninth = await privateKey.addSubkey({ date: NOW });
    const result = await merge(full.canonicalKey, ninth.toPublic().write());
    assert.equal(result.kind, "unchanged");
    assert.equal(result.summary.stripped.subkeys, 1);
  });

  it("joins two copies without losing anything, the same way every time, keeping the first of two same-second self-signatures", async () => {
    const { privateKey, published } = await owner();
    const first = await openpgp.reformatKey({ privateKey, userIDs: [USER], keyExpirationTime: 2 * YEAR, date: LATER, format: "object" });
    const second = await openpgp.reformatKey({ privateKey, userIDs: [USER], keyExpirationTime: 3 * YEAR, date: LATER, format: "object" });
    const a = merged(await merge(published, first.publicKey.write())).canonicalKey;
    const b = merged(await merge(published, second.publicKey.write())).canonicalKey;
    assert.deepEqual(unionCanonical(a, b), a);
    assert.deepEqual(unionCanonical(b, a), b);
    assert.deepEqual(unionCanonical(published, a), a, "the newer self-signatures win over the older copy's");
    const withSubkey = merged(await merge(a, (await privateKey.addSubkey({ date: NOW })).toPublic().write())).canonicalKey;
    assert.deepEqual(unionCanonical(published, withSubkey), withSubkey);
    assert.deepEqual(unionCanonical(withSubkey, published), withSubkey);
  });

  it("refuses a key the portal never certified, with the plain reason", async () => {
    const { published } = await owner();
    const stranger = await owner();
    const result = await merge(published, stranger.privateKey.toPublic().write());
    assert.equal(result.kind, "refused");
    assert.equal(result.kind === "refused" && result.problem.message, NOT_CERTIFIED_MESSAGE);
  });

  it("leaves oversized uploads to the intake bounds, before anything is parsed", async () => {
    const intake = await readUpload(new Uint8Array(1024 * 1024 + 1).fill(0x41), config);
    assert.equal(intake.ok, false);
    assert.equal(!intake.ok && intake.problem.code, "KEYSIGN_ERR_KEY_TOO_LARGE");
  });
});
