/**
 * Intake limits checked on the raw upload before anything parses it (SECURITY.md, "Rules
 * learned from attacks"): compressed data is never opened, secret key material is still found,
 * and every packet, armor block, line, subpacket and failed verification is counted against a
 * limit with its own message. Each test fails if the rule it names is removed: the input would
 * then be accepted, or refused for another reason. Timing is measured by
 * `npm run bench -- intake-worst`, never asserted here.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { deflateRawSync } from "node:zlib";
import { armor, enums } from "openpgp";
import { DEFAULT_KEY_POLICY, inspectKey, LIMITS, type InspectResult, type KeyPolicyOptions } from "../../src/core/key-policy.ts";
import { concatBytes, scanPackets, surveyPackets, TAG, writePacket } from "../../src/core/key-policy/packets.ts";
import { bytes, ed25519Forger, forgedKey, keyBody, mpi, p521Forger, rsaForger, subpacket, uint16 } from "../fixtures/forge.ts";

const OPTIONS: KeyPolicyOptions = { ...DEFAULT_KEY_POLICY, now: new Date("2026-01-01T00:00:00Z") };
const SECRET_MESSAGE = /^secret key material detected; nothing was stored\b/;

const key = (name: string) => new Uint8Array(readFileSync(new URL(`../fixtures/keys/${name}`, import.meta.url)));
const text = (data: Uint8Array) => Buffer.from(data).toString("utf8");
const armored = (binary: Uint8Array) => armor(enums.armor.publicKey, binary, undefined, undefined, undefined, true);
const good = key("ed25519-good.gpg");
const goodArmored = text(key("ed25519-good.asc"));
const repeat = (count: number, make: (index: number) => Uint8Array) => concatBytes(Array.from({ length: count }, (_, index) => make(index)));

async function accepted(upload: Uint8Array): Promise<Extract<InspectResult, { ok: true }>> {
  const result = await inspectKey(upload, OPTIONS);
  if (!result.ok) assert.fail(`expected acceptance, got ${JSON.stringify(result.problems)}`);
  return result;
}

async function refused(upload: Uint8Array, code: string, message: RegExp): Promise<void> {
  const result = await inspectKey(upload, OPTIONS);
  if (result.ok) assert.fail(`expected ${code}, but the key was accepted`);
  assert.deepEqual(
    result.problems.map((problem) => problem.code),
    [code],
  );
  assert.match(result.problems[0]?.message ?? "", message);
}

/** A compressed data packet (raw deflate) around `inner`. */
const compressed = (inner: Uint8Array) => writePacket(TAG.compressedData, concatBytes([bytes([1]), deflateRawSync(inner)]));

/** `body` sent as one 32-byte partial chunk and a final chunk, as only data packets may be. */
function partialPacket(tag: number, body: Uint8Array): Uint8Array {
  const rest = body.subarray(32);
  return concatBytes([bytes([0xc0 | tag, 0xe5]), body.subarray(0, 32), bytes([rest.length]), rest]);
}

/** A v4 signature by nobody, with `hashed` subpackets and no unhashed ones. */
function signatureWith(hashed: readonly Uint8Array[], type = 0x13): Uint8Array {
  const area = concatBytes(hashed);
  return concatBytes([bytes([4, type, 22, 8]), uint16(area.length), area, uint16(0), bytes([0, 0]), mpi(bytes([1])), mpi(bytes([1]))]);
}

const tiny = (count: number) => Array.from({ length: count }, () => subpacket(100, new Uint8Array()));

describe("compressed data is never opened", () => {
  it("the key policy has no decompressor to call", () => {
    const directory = new URL("../../src/core/key-policy/", import.meta.url);
    const sources = readdirSync(directory).map((name) => readFileSync(new URL(name, directory), "utf8"));
    sources.push(readFileSync(new URL("../../src/core/key-policy.ts", import.meta.url), "utf8"));
    for (const source of sources) assert.doesNotMatch(source, /["'](node:)?zlib["']|\binflate\w*\(|\bdecompress\w*\(/);
  });

  it("refuses a compressed packet whose body is not deflate at all, saying why and what to do", async () => {
    const junk = writePacket(TAG.compressedData, concatBytes([bytes([1]), new Uint8Array(4096).fill(0xff)]));
    await refused(junk, "KEYSIGN_ERR_KEY_COMPRESSED", /compressed data, which is not accepted and was not opened.*gpg --armor --export YOUR-FINGERPRINT/s);
  });

  it("refuses a deflate bomb and nested compression unopened", async () => {
    const bomb = compressed(new Uint8Array(16 * 1024 * 1024));
    await refused(bomb, "KEYSIGN_ERR_KEY_COMPRESSED", /was not opened/);
    await refused(compressed(compressed(compressed(good))), "KEYSIGN_ERR_KEY_COMPRESSED", /was not opened/);
  });

  it("refuses compressed data after a public key and in a second armor block", async () => {
    await refused(concatBytes([good, compressed(good)]), "KEYSIGN_ERR_KEY_COMPRESSED", /was not opened/);
    await refused(Buffer.from(goodArmored + armored(compressed(good))), "KEYSIGN_ERR_KEY_COMPRESSED", /was not opened/);
  });

  it("refuses a secret key inside compressed data as compressed, telling its owner to treat the key as exposed", async () => {
    await refused(key("secret-compressed.asc"), "KEYSIGN_ERR_KEY_COMPRESSED", /secret key must never be uploaded.*consider that key exposed, revoke it/s);
  });
});

describe("secret key material is found without opening anything", () => {
  const secret = key("secret-binary.gpg");

  it("in a second armor block labelled as a public key", async () => {
    await refused(Buffer.from(goodArmored + armored(secret)), "KEYSIGN_ERR_KEY_SECRET", SECRET_MESSAGE);
  });

  it("after a public key, before any packet limit is applied", async () => {
    const markers = repeat(LIMITS.maxPackets, () => writePacket(TAG.marker, Buffer.from("PGP")));
    await refused(concatBytes([good, markers, secret]), "KEYSIGN_ERR_KEY_SECRET", SECRET_MESSAGE);
  });

  it("next to compressed data, which is then not what the refusal names", async () => {
    await refused(concatBytes([good, compressed(good), secret]), "KEYSIGN_ERR_KEY_SECRET", SECRET_MESSAGE);
  });

  it("in a packet sent in partial-length chunks", async () => {
    const [first] = scanPackets(secret).packets;
    assert.ok(first && first.tag === TAG.secretKey && first.body.length > 32);
    await refused(concatBytes([good, partialPacket(TAG.secretKey, first.body)]), "KEYSIGN_ERR_KEY_SECRET", SECRET_MESSAGE);
  });
});

describe("armor limits, before any block is decoded", () => {
  const emptyBlock = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n-----END PGP PUBLIC KEY BLOCK-----\n";

  it(`refuses more than ${LIMITS.maxArmorBlocks} armor blocks`, async () => {
    await refused(Buffer.from(emptyBlock.repeat(LIMITS.maxArmorBlocks + 1)), "KEYSIGN_ERR_KEY_TOO_MANY_ARMOR_BLOCKS", /holds 5 armored blocks.*exactly one public key/s);
    await refused(Buffer.from(goodArmored.repeat(LIMITS.maxArmorBlocks)), "KEYSIGN_ERR_KEY_MULTIPLE", /contains 4 keys/);
  });

  it(`refuses more than ${LIMITS.maxArmorLines} lines, blank ones included`, async () => {
    const padded = (lines: number) => Buffer.from(goodArmored + "\n".repeat(lines));
    const lines = goodArmored.split("\n").length;
    await refused(padded(LIMITS.maxArmorLines - lines + 1), "KEYSIGN_ERR_KEY_TOO_MANY_ARMOR_LINES", /has 20001 lines; at most 20000 are read/);
    await accepted(padded(LIMITS.maxArmorLines - lines));
  });

  it(`refuses an armor line longer than ${LIMITS.maxArmorLineLength} characters, naming the line`, async () => {
    const big = armored(concatBytes([good, writePacket(TAG.padding, new Uint8Array(1024))]));
    const [begin, blank, ...body] = big.trimEnd().split("\n");
    const joined = [begin, blank, body.slice(0, -2).join(""), ...body.slice(-2), ""].join("\n");
    await refused(Buffer.from(joined), "KEYSIGN_ERR_KEY_ARMOR_LINE_TOO_LONG", /line 3 of the armored text is 2\d{3} characters long/);
    await accepted(Buffer.from(big));
  });
});

describe("packet limits, counted before any packet is parsed", () => {
  const attribute = (index: number) => writePacket(TAG.userAttribute, bytes([5, 1, 0, 0, 0, index]));

  it(`refuses more than ${LIMITS.maxUserAttributes} user attributes, though they are stripped anyway`, async () => {
    await refused(concatBytes([good, repeat(11, attribute)]), "KEYSIGN_ERR_KEY_TOO_MANY_USER_ATTRIBUTES", /has 11 photo IDs.*at most 10/s);
    await accepted(concatBytes([good, repeat(10, attribute)]));
  });

  it("counts packets of every block together", async () => {
    await refused(Buffer.from(goodArmored + armored(repeat(11, attribute))), "KEYSIGN_ERR_KEY_TOO_MANY_USER_ATTRIBUTES", /has 11 photo IDs/);
  });

  it(`refuses more than ${LIMITS.maxPackets} packets, counting the ignored marker, trust and padding packets`, async () => {
    const count = scanPackets(good).packets.length;
    for (const filler of [writePacket(TAG.marker, Buffer.from("PGP")), writePacket(TAG.trust, bytes([0, 0])), writePacket(TAG.padding, bytes([0]))]) {
      await refused(concatBytes([good, repeat(LIMITS.maxPackets - count + 1, () => filler)]), "KEYSIGN_ERR_KEY_TOO_MANY_PACKETS", /holds 513 OpenPGP packets; at most 512/);
      await accepted(concatBytes([good, repeat(LIMITS.maxPackets - count, () => filler)]));
    }
  });

  it(`refuses a user ID over ${LIMITS.maxUserIdBytes} bytes even when it is unbound, quoting its start`, async () => {
    const unbound = (length: number) => concatBytes([good, writePacket(TAG.userId, Buffer.from("x".repeat(length)))]);
    await refused(unbound(LIMITS.maxUserIdBytes + 1), "KEYSIGN_ERR_USERID_TOO_LONG", /"x{80}…" is 257 bytes long; at most 256/);
    await accepted(unbound(LIMITS.maxUserIdBytes));
  });

  it(`refuses a key packet over ${LIMITS.maxKeyPacketBytes} bytes`, async () => {
    const subkey = (modulusBytes: number) => writePacket(TAG.publicSubkey, keyBody(1, concatBytes([mpi(new Uint8Array(modulusBytes).fill(0xc3)), mpi(bytes([1, 0, 1]))])));
    await refused(concatBytes([good, subkey(4200)]), "KEYSIGN_ERR_KEY_PACKET_SIZE", /is 4213 bytes; no accepted key needs more than 4096/);
    await accepted(concatBytes([good, subkey(2048)]));
  });

  it(`refuses a signature with more than ${LIMITS.maxSubpackets} subpackets, counting embedded ones`, async () => {
    const withSubpackets = (count: number) => concatBytes([good, writePacket(TAG.signature, signatureWith(tiny(count)))]);
    await refused(withSubpackets(LIMITS.maxSubpackets + 1), "KEYSIGN_ERR_KEY_TOO_MANY_SUBPACKETS", /more than 64 subpackets/);
    await accepted(withSubpackets(LIMITS.maxSubpackets));
    const embedding = signatureWith([...tiny(40), subpacket(32, signatureWith(tiny(30), 0x19))], 0x18);
    await refused(concatBytes([good, writePacket(TAG.signature, embedding)]), "KEYSIGN_ERR_KEY_TOO_MANY_SUBPACKETS", /more than 64 subpackets/);
  });

  it("refuses an embedded signature that embeds another or is not a version 4 signature", async () => {
    const nested = signatureWith([subpacket(32, signatureWith([subpacket(32, signatureWith([], 0x19))], 0x19))], 0x18);
    await refused(concatBytes([good, writePacket(TAG.signature, nested)]), "KEYSIGN_ERR_KEY_EMBEDDED_SIGNATURE", /embeds a signature that is damaged, not version 4, or embeds another/);
    const v6 = signatureWith([subpacket(32, concatBytes([bytes([6]), signatureWith([]).subarray(1)]))], 0x18);
    await refused(concatBytes([good, writePacket(TAG.signature, v6)]), "KEYSIGN_ERR_KEY_EMBEDDED_SIGNATURE", /not version 4/);
    await accepted(concatBytes([good, writePacket(TAG.signature, signatureWith([subpacket(32, signatureWith([], 0x19))], 0x18))]));
  });
});

describe("RSA public exponent, read before anything is verified", () => {
  const exponent = (bits: number) => concatBytes([bytes([1 << ((bits - 1) % 8)]), new Uint8Array(Math.ceil(bits / 8) - 1).fill(0x01)]);

  it(`refuses a primary key whose exponent is longer than ${LIMITS.maxRsaExponentBits} bits, 1 or even`, async () => {
    await refused(forgedKey({ primary: rsaForger(2048, exponent(65)) }), "KEYSIGN_ERR_KEY_RSA_EXPONENT", /its public exponent is 65 bits long.*at most 64 bits/s);
    await refused(forgedKey({ primary: rsaForger(2048, bytes([1])) }), "KEYSIGN_ERR_KEY_RSA_EXPONENT", /its public exponent is 1 or even/);
    await refused(forgedKey({ primary: rsaForger(2048, bytes([1, 0, 0])) }), "KEYSIGN_ERR_KEY_RSA_EXPONENT", /its public exponent is 1 or even/);
    // Within the limits the key gets as far as its (bogus) self-signature.
    await refused(forgedKey({ primary: rsaForger(2048, exponent(64)) }), "KEYSIGN_ERR_KEY_NO_VALID_USERID", /no user ID/);
  });

  it("strips a subkey whose exponent is too long, saying so", async () => {
    const subkey = writePacket(TAG.publicSubkey, rsaForger(2048, exponent(65)).body);
    const { warnings } = await accepted(concatBytes([good, subkey]));
    assert.ok(warnings.some((warning) => warning.code === "KEYSIGN_WARN_SUBKEY_REMOVED" && warning.message.includes("public exponent is 65 bits long")));
  });
});

describe("failed verifications", () => {
  it(`refuses a key once more than ${LIMITS.maxFailedVerifications} of its self-signatures fail to verify`, async () => {
    const primary = ed25519Forger();
    await refused(forgedKey({ primary, bogusSelfSignatures: LIMITS.maxFailedVerifications + 1 }), "KEYSIGN_ERR_KEY_BAD_SELF_SIGNATURES", /claim to be its own but do not verify/);
    await accepted(forgedKey({ primary, bogusSelfSignatures: LIMITS.maxFailedVerifications }));
  });

  it("counts back-signatures that fail", async () => {
    const subkeys = (bogus: number) => ({ forger: ed25519Forger, count: 1, bogusBackSignatures: () => bogus });
    await refused(forgedKey({ primary: ed25519Forger(), subkeys: subkeys(LIMITS.maxFailedVerifications + 1) }), "KEYSIGN_ERR_KEY_BAD_SELF_SIGNATURES", /do not verify/);
    await accepted(forgedKey({ primary: ed25519Forger(), subkeys: subkeys(LIMITS.maxFailedVerifications) }));
  });

  it("counts a failed ECDSA signature whose digest starts with a zero byte as four, as the library checks it twice", async () => {
    const primary = p521Forger();
    await refused(forgedKey({ primary, bogusSelfSignatures: 2, zeroPrefix: true }), "KEYSIGN_ERR_KEY_BAD_SELF_SIGNATURES", /do not verify/);
    // Chosen so that no digest starts with a zero byte by chance (one in 256 would), which would count it as four.
    await accepted(forgedKey({ primary, bogusSelfSignatures: 2, zeroPrefix: false }));
  });
});

describe("the cost of all checks of one upload together", () => {
  it(`refuses a key whose checks would cost more than ${LIMITS.maxVerificationCost} units, counting each by its algorithm`, async () => {
    // P-521 costs 7 units a check; each user ID takes one check and each signing subkey two (binding and back-signature).
    const p521 = (userIds: number, subkeys: number) => forgedKey({ primary: p521Forger(), userIds, subkeys: { forger: p521Forger, count: subkeys } });
    await accepted(p521(LIMITS.maxUserIds, 5));
    await refused(p521(LIMITS.maxUserIds, 6), "KEYSIGN_ERR_KEY_TOO_MANY_CHECKS", /would take longer than the portal spends on one upload.*use an Ed25519 key/s);
    // The same shape on Ed25519 costs a unit a check: every count limit at once stays well inside.
    await accepted(forgedKey({ primary: ed25519Forger(), userIds: LIMITS.maxUserIds, subkeys: { forger: ed25519Forger, count: LIMITS.maxSubkeys } }));
  });
});

describe("grouping by digest", () => {
  it("keeps a user attribute apart from a user ID with the same bytes", async () => {
    const [, userId] = scanPackets(good).packets;
    assert.equal(userId?.tag, TAG.userId);
    const { facts, warnings } = await accepted(concatBytes([good, writePacket(TAG.userAttribute, userId.body)]));
    assert.equal(facts.userIds.length, 2);
    assert.ok(warnings.some((warning) => warning.code === "KEYSIGN_WARN_USER_ATTRIBUTES_REMOVED"));
  });

  it("merges a subkey that appears twice", async () => {
    const list = scanPackets(good).packets;
    const last = list.slice(-2).map((packet) => writePacket(packet.tag, packet.body));
    assert.equal(list.at(-2)?.tag, TAG.publicSubkey);
    assert.deepEqual((await accepted(concatBytes([good, ...last]))).minimal, (await accepted(good)).minimal);
  });
});

describe("the packet survey frames exactly as the parser", () => {
  const samples: Uint8Array[] = readdirSync(new URL("../fixtures/keys/", import.meta.url))
    .filter((name) => name.endsWith(".gpg") || name === "random.bin")
    .map((name) => key(name));
  samples.push(concatBytes([good, partialPacket(TAG.userAttribute, new Uint8Array(40))]), good.subarray(0, 500));

  it("counts every packet by type, stopping where framing breaks", () => {
    for (const sample of samples) {
      const scan = scanPackets(sample);
      const survey = surveyPackets(sample);
      const counts = new Array<number>(64).fill(0);
      for (const packet of scan.packets) counts[packet.tag] = (counts[packet.tag] ?? 0) + 1;
      assert.deepEqual([survey.complete, survey.total, survey.counts], [scan.complete, scan.packets.length, counts]);
    }
  });
});
