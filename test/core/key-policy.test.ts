/**
 * Key intake policy (SECURITY.md, "Key intake policy"), rule by rule. Every refusal asserts
 * its own code and message; every stripping rule parses the canonical copy back. Each test
 * fails if the check it names is removed (the fixture would be accepted or refused for a
 * different reason). Fixtures: test/fixtures/README.md; all evaluated at NOW.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { armor, enums, readKey, unarmor } from "openpgp";
import {
  canonicalizeKey,
  DEFAULT_KEY_POLICY,
  inspectKey,
  KeyPolicyError,
  LIMITS,
  type InspectResult,
  type KeyPolicyOptions,
} from "../../src/core/key-policy.ts";
import { concatBytes, scanPackets, TAG, writePacket, type Packet } from "../../src/core/key-policy/packets.ts";
import { readSignatureLayout, SUBPACKET, withUnhashedArea } from "../../src/core/key-policy/subpackets.ts";

const NOW = new Date("2026-01-01T00:00:00Z");
const OPTIONS: KeyPolicyOptions = { ...DEFAULT_KEY_POLICY, now: NOW };
const SECRET_MESSAGE = /^secret key material detected; nothing was stored\b.*revoke it, create a new key/s;

const key = (name: string): Buffer => readFileSync(new URL(`../fixtures/keys/${name}`, import.meta.url));
const file = (name: string): Buffer => readFileSync(new URL(`../fixtures/files/${name}`, import.meta.url));
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8");

async function accepted(upload: Uint8Array, options: KeyPolicyOptions = OPTIONS): Promise<Extract<InspectResult, { ok: true }>> {
  const result = await inspectKey(upload, options);
  if (!result.ok) assert.fail(`expected acceptance, got ${JSON.stringify(result.problems)}`);
  return result;
}

async function refused(upload: Uint8Array, code: string, message: RegExp, options: KeyPolicyOptions = OPTIONS): Promise<void> {
  const result = await inspectKey(upload, options);
  if (result.ok) assert.fail(`expected ${code}, but the key was accepted`);
  const problem = result.problems.find((candidate) => candidate.code === code);
  assert.ok(problem, `expected ${code}, got ${JSON.stringify(result.problems)}`);
  assert.match(problem.message, message);
}

async function dearmored(name: string): Promise<Uint8Array> {
  const { data } = await unarmor(text(key(name)));
  assert.ok(data instanceof Uint8Array);
  return data;
}

function packets(binary: Uint8Array): Packet[] {
  const scan = scanPackets(binary);
  assert.ok(scan.complete, "canonical copy must frame completely");
  return scan.packets;
}

const serialise = (list: readonly Packet[]) => concatBytes(list.map((packet) => writePacket(packet.tag, packet.body)));
const userIdsOf = (binary: Uint8Array) => packets(binary).filter((packet) => packet.tag === TAG.userId).map((packet) => text(packet.body));
const countTag = (binary: Uint8Array, tag: number) => packets(binary).filter((packet) => packet.tag === tag).length;

describe("size", () => {
  it("refuses an upload over 1 MiB before parsing it (a valid key padded with blank lines)", async () => {
    const padded = Buffer.concat([key("ed25519-good.asc"), Buffer.alloc(LIMITS.maxUploadBytes, 0x0a)]);
    await refused(padded, "KEYSIGN_ERR_KEY_TOO_LARGE", /at most 1048576 bytes/);
  });

  it("accepts an upload of exactly 1 MiB (a valid key and a last line of spaces)", async () => {
    const good = key("ed25519-good.asc");
    await accepted(Buffer.concat([good, Buffer.alloc(LIMITS.maxUploadBytes - good.length, 0x20)]));
  });

  it("refuses a key whose canonical copy exceeds 256 KiB", async () => {
    await refused(key("canonical-too-large.gpg"), "KEYSIGN_ERR_KEY_CANONICAL_TOO_LARGE", /limit is 262144 bytes/);
  });
});

describe("exactly one certificate", () => {
  it("refuses two keys in one armor block", async () => {
    await refused(key("two-keys-one-armor.asc"), "KEYSIGN_ERR_KEY_MULTIPLE", /contains 2 keys/);
  });

  it("refuses two armor blocks, each with one key", async () => {
    await refused(key("two-armor-blocks.asc"), "KEYSIGN_ERR_KEY_MULTIPLE", /contains 2 keys/);
  });

  it("refuses two binary keys back to back, even the same key twice", async () => {
    const binary = key("ed25519-good.gpg");
    await refused(Buffer.concat([binary, binary]), "KEYSIGN_ERR_KEY_MULTIPLE", /contains 2 keys/);
  });
});

describe("secret key material", () => {
  const fixtures = [
    "ed25519-good-secret.asc",
    "secret-binary.gpg",
    "secret-stub.gpg",
    "secret-stub.asc",
    "public-and-secret.asc",
    "public-and-secret.gpg",
    "secret-in-public-armor.asc",
    "rsa4096-secret.asc",
  ];
  for (const name of fixtures) {
    it(`refuses ${name}`, async () => {
      await refused(key(name), "KEYSIGN_ERR_KEY_SECRET", SECRET_MESSAGE);
    });
  }

  it("finds a private key block that is too damaged to parse (text marker)", async () => {
    const damaged = `${text(key("ed25519-good.asc"))}\n-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n!!!\n-----END PGP PRIVATE KEY BLOCK-----\n`;
    await refused(Buffer.from(damaged), "KEYSIGN_ERR_KEY_SECRET", SECRET_MESSAGE);
  });

  it("finds secret packets under a public label (packet scan)", async () => {
    assert.ok(!key("secret-in-public-armor.asc").includes("PRIVATE KEY BLOCK"));
    await refused(key("secret-in-public-armor.asc"), "KEYSIGN_ERR_KEY_SECRET", SECRET_MESSAGE);
  });

  it("never puts key material in the message: it is the same sentence for every secret upload", async () => {
    const messages = new Set<string>();
    for (const name of fixtures) {
      const result = await inspectKey(key(name), OPTIONS);
      assert.equal(result.ok, false);
      if (!result.ok) messages.add(JSON.stringify(result.problems));
    }
    assert.equal(messages.size, 1);
  });
});

describe("armor types and packet types", () => {
  it("refuses an armored message, naming it", async () => {
    // GnuPG compresses what it signs (message.asc is refused as compressed); this one is not.
    const literal = writePacket(TAG.literalData, Buffer.from("b\u0000\u0000\u0000\u0000\u0000hello"));
    const message = armor(enums.armor.message, literal);
    await refused(Buffer.from(message), "KEYSIGN_ERR_KEY_WRONG_TYPE", /this is an OpenPGP message \(-----BEGIN PGP MESSAGE-----\)/);
  });

  it("refuses an armored signature, naming it", async () => {
    await refused(key("signature.asc"), "KEYSIGN_ERR_KEY_WRONG_TYPE", /this is a signature \(-----BEGIN PGP SIGNATURE-----\)/);
  });

  it("refuses a clear-signed message, naming it", async () => {
    await refused(key("clearsigned.asc"), "KEYSIGN_ERR_KEY_WRONG_TYPE", /clear-signed message/);
  });

  it("refuses binary message packets", async () => {
    const literal = writePacket(TAG.literalData, Buffer.from("b\u0000\u0000\u0000\u0000\u0000hello"));
    await refused(literal, "KEYSIGN_ERR_KEY_WRONG_TYPE", /this is an OpenPGP message, not a public key/);
    await refused(Buffer.concat([key("ed25519-good.gpg"), literal]), "KEYSIGN_ERR_KEY_WRONG_TYPE", /OpenPGP message/);
  });

  it("refuses a binary signature", async () => {
    await refused(file("agreement.pdf.sig"), "KEYSIGN_ERR_KEY_WRONG_TYPE", /this is a signature, not a public key/);
  });

  it("refuses an unknown armor label, quoting it", async () => {
    const body = text(key("ed25519-good.asc")).replaceAll("PUBLIC KEY BLOCK", "ARMORED FILE");
    await refused(Buffer.from(body), "KEYSIGN_ERR_KEY_WRONG_TYPE", /labelled "PGP ARMORED FILE"/);
  });

  it("refuses a key inside a compressed packet", async () => {
    await refused(key("compressed.asc"), "KEYSIGN_ERR_KEY_COMPRESSED", /compressed data, which is not accepted and was not opened/);
  });
});

describe("armor as people paste it", () => {
  const armored = text(key("ed25519-good.asc"));
  const variants: Record<string, string> = {
    "CRLF line endings": armored.replace(/\n/g, "\r\n"),
    "armor headers": armored.replace("-----\n\n", "-----\nVersion: GnuPG v2\nComment: my key\n\n"),
    "a byte-order mark": `\uFEFF${armored}`,
    "trailing spaces": armored.replace(/\n/g, "  \n"),
    "blank lines around": `\n \n${armored}\n\n`,
    "no checksum line": armored.replace(/\n=[A-Za-z0-9+/]{4}\n/, "\n"),
  };
  for (const [name, variant] of Object.entries(variants)) {
    it(`accepts ${name}, with the same canonical bytes`, async () => {
      const reference = await accepted(key("ed25519-good.gpg"));
      assert.notEqual(variant, armored);
      assert.deepEqual((await accepted(Buffer.from(variant))).minimal, reference.minimal);
    });
  }
});

describe("malformed input", () => {
  const notAKey = /^this is not an OpenPGP public key: /;

  it("refuses an empty upload and a blank one", async () => {
    await refused(key("empty.asc"), "KEYSIGN_ERR_KEY_EMPTY", /^this is not an OpenPGP public key: the upload is empty/);
    await refused(Buffer.from(" \n\t\r\n"), "KEYSIGN_ERR_KEY_EMPTY", /the upload is empty/);
  });

  it("refuses random bytes and plain text", async () => {
    await refused(key("random.bin"), "KEYSIGN_ERR_KEY_MALFORMED", notAKey);
    await refused(Buffer.from("hello, here is my key"), "KEYSIGN_ERR_KEY_MALFORMED", notAKey);
  });

  it("refuses random bytes that start like a packet header", async () => {
    const bytes = createHash("sha512").update("noise").digest();
    await refused(Buffer.concat([Buffer.from([0x99, 0x01, 0x0d]), bytes]), "KEYSIGN_ERR_KEY_MALFORMED", notAKey);
  });

  it("refuses truncated binary and truncated armor", async () => {
    const binary = key("ed25519-good.gpg");
    await refused(binary.subarray(0, binary.length - 10), "KEYSIGN_ERR_KEY_MALFORMED", /could not be read as OpenPGP packets/);
    const armored = text(key("ed25519-good.asc"));
    await refused(Buffer.from(armored.slice(0, armored.length / 2)), "KEYSIGN_ERR_KEY_MALFORMED", /has no END line/);
  });

  it("refuses text around the armor block", async () => {
    await refused(Buffer.concat([Buffer.from("Here is my key:\n"), key("ed25519-good.asc")]), "KEYSIGN_ERR_KEY_MALFORMED", /text outside the armored block/);
  });

  it("refuses a stream that does not start with a public key", async () => {
    const list = packets(key("ed25519-good.gpg"));
    await refused(serialise(list.slice(1)), "KEYSIGN_ERR_KEY_MALFORMED", /does not start with a public key packet/);
  });
});

describe("key version", () => {
  it("refuses a v6 key, explaining GnuPG 2.2", async () => {
    await refused(key("v6-key.asc"), "KEYSIGN_ERR_KEY_VERSION", /version 6 key.*GnuPG 2\.2/s);
  });

  it("refuses a v5 key", async () => {
    await refused(key("v5-version-byte.asc"), "KEYSIGN_ERR_KEY_VERSION", /version 5 key/);
  });
});

describe("primary algorithm", () => {
  const good: Array<[string, string, string, number]> = [
    ["ed25519-good.asc", "Ed25519", "ed25519", 255],
    ["rsa3072.asc", "RSA 3072", "rsa", 3072],
    ["rsa4096.asc", "RSA 4096", "rsa", 4096],
    ["ecdsa-p256.asc", "ECDSA P-256", "ecdsa-p256", 256],
    ["ecdsa-p384.asc", "ECDSA P-384", "ecdsa-p384", 384],
    ["ecdsa-p521.asc", "ECDSA P-521", "ecdsa-p521", 521],
  ];
  for (const [name, label, id, bits] of good) {
    it(`accepts ${label}`, async () => {
      const { facts, warnings } = await accepted(key(name));
      assert.deepEqual([facts.algorithm, facts.algorithmId, facts.bits], [label, id, bits]);
      assert.deepEqual(warnings, []);
    });
  }

  it("accepts RSA 2048 with a warning", async () => {
    const { facts, warnings } = await accepted(key("rsa2048.asc"));
    assert.equal(facts.algorithm, "RSA 2048");
    assert.deepEqual(warnings.map((warning) => warning.code), ["KEYSIGN_WARN_RSA_BELOW_3072"]);
  });

  it("refuses RSA 1024, naming the size", async () => {
    await refused(key("rsa1024.asc"), "KEYSIGN_ERR_KEY_RSA_SIZE", /RSA 1024; at least 2048 bits/);
  });

  it("takes the RSA minimum from the options", async () => {
    await refused(key("rsa2048.asc"), "KEYSIGN_ERR_KEY_RSA_SIZE", /RSA 2048; at least 3072 bits/, { ...OPTIONS, minRsaBits: 3072 });
    await accepted(key("rsa1024.asc"), { ...OPTIONS, minRsaBits: 1024 });
  });

  const refusedAlgorithms: Array<[string, RegExp]> = [
    ["dsa2048-elgamal.asc", /uses DSA 2048/],
    ["secp256k1.asc", /uses ECDSA secp256k1/],
    ["brainpool-p256.asc", /uses ECDSA brainpoolP256r1/],
    ["ed25519-rfc9580.asc", /RFC 9580 format.*GnuPG 2\.2 cannot read/],
  ];
  for (const [name, message] of refusedAlgorithms) {
    it(`refuses ${name}, naming the algorithm`, async () => {
      await refused(key(name), "KEYSIGN_ERR_KEY_ALGORITHM", message);
    });
  }
});

describe("hashes on the trust path", () => {
  const weak: Array<[string, RegExp]> = [
    ["sha1-self-sig.asc", /self-signature on user ID "Sha One <sha1-only@example.org>" uses SHA-1/],
    ["sha1-self-sig-rsa.asc", /uses SHA-1/],
    ["md5-self-sig-rsa.asc", /uses MD5/],
    ["ripemd160-self-sig-rsa.asc", /uses RIPEMD-160/],
    ["sha1-subkey-binding.asc", /binding signature of subkey [0-9A-F]{40} uses SHA-1/],
  ];
  for (const [name, message] of weak) {
    it(`refuses ${name}`, async () => {
      await refused(key(name), "KEYSIGN_ERR_KEY_WEAK_HASH", message);
    });
  }

  it("accepts a SHA-1 self-signature superseded by a newer SHA-256 one, and drops the old one", async () => {
    const upload = packets(await dearmored("sha1-superseded.asc"));
    const uploadedHashes = upload.filter((packet) => packet.tag === TAG.signature).map((packet) => readSignatureLayout(packet.body)?.hashAlgorithm);
    assert.deepEqual(uploadedHashes.sort(), [2, 8], "fixture holds a SHA-1 and a SHA-256 self-signature");
    const { minimal } = await accepted(key("sha1-superseded.asc"));
    const kept = packets(minimal).filter((packet) => packet.tag === TAG.signature);
    assert.deepEqual(kept.map((packet) => readSignatureLayout(packet.body)?.hashAlgorithm), [8]);
  });

  it("refuses when the SHA-1 self-signature is the newer one", async () => {
    const list = packets(await dearmored("sha1-superseded.asc"));
    const signatures = list.filter((packet) => packet.tag === TAG.signature);
    const strong = signatures.find((packet) => readSignatureLayout(packet.body)?.hashAlgorithm === 8);
    assert.ok(strong);
    // Only the SHA-1 one left: it is the newest (and only) self-signature, on the trust path.
    await refused(serialise(list.filter((packet) => packet !== strong)), "KEYSIGN_ERR_KEY_WEAK_HASH", /uses SHA-1/);
  });
});

describe("validity", () => {
  it("refuses an expired key with its date", async () => {
    await refused(key("expired.asc"), "KEYSIGN_ERR_KEY_EXPIRED", /expired on 2025-06-01T12:00:00\.000Z/);
  });

  it("names the key's own fingerprint in the command that fixes it, once the key could be read", async () => {
    const fingerprint = (await readKey({ armoredKey: text(key("expired.asc")) })).getFingerprint().toUpperCase();
    await refused(key("expired.asc"), "KEYSIGN_ERR_KEY_EXPIRED", new RegExp(`\`gpg --quick-set-expire ${fingerprint} 2y\``));
    // Nothing to name when no key could be read: the command keeps its placeholder.
    await refused(Buffer.from("not a key"), "KEYSIGN_ERR_KEY_MALFORMED", /YOUR-FINGERPRINT/);
  });

  it("evaluates expiry at options.now, not the wall clock", async () => {
    await refused(key("ed25519-good.asc"), "KEYSIGN_ERR_KEY_EXPIRED", /expired on 2030-01-01/, { ...OPTIONS, now: new Date("2031-01-01T00:00:00Z") });
    await accepted(key("expired.asc"), { ...OPTIONS, now: new Date("2025-03-01T00:00:00Z") });
  });

  it("takes the expiry from a direct-key self-signature too", async () => {
    await refused(key("direct-key-expired.asc"), "KEYSIGN_ERR_KEY_EXPIRED", /expired on 2025-12-01T00:00:00\.000Z/);
  });

  it("refuses a revoked key", async () => {
    await refused(key("revoked.asc"), "KEYSIGN_ERR_KEY_REVOKED", /revoked by its owner/);
  });

  it("warns when the key expires within 30 days", async () => {
    const { warnings, facts } = await accepted(key("expiring-soon.asc"));
    assert.deepEqual(warnings.map((warning) => warning.code), ["KEYSIGN_WARN_KEY_EXPIRES_SOON"]);
    assert.equal(facts.expiresAt?.toISOString(), "2026-01-20T12:00:00.000Z");
    const later = await accepted(key("expiring-soon.asc"), { ...OPTIONS, now: new Date("2025-12-01T00:00:00Z") });
    assert.deepEqual(later.warnings, []);
  });

  it("refuses a key made after options.now", async () => {
    await refused(key("future.asc"), "KEYSIGN_ERR_KEY_FUTURE", /2027-01-01T00:00:00\.000Z\) is in the future/);
  });

  it("requires a valid self-signature: user IDs without any are refused", async () => {
    const list = packets(key("ed25519-good.gpg"));
    const firstSubkey = list.findIndex((packet) => packet.tag === TAG.publicSubkey);
    const unsigned = list.filter((packet, index) => packet.tag !== TAG.signature || index > firstSubkey);
    await refused(serialise(unsigned), "KEYSIGN_ERR_KEY_NO_VALID_USERID", /no user ID on this key carries a valid self-signature/);
  });

  it("does not count a self-signature over different user ID bytes", async () => {
    const list = packets(key("ed25519-good.gpg"));
    const tampered = list.map((packet) =>
      packet.tag === TAG.userId && text(packet.body).startsWith("Alice Work") ? { ...packet, body: Buffer.from("Mallory Work <alice@work.example>") } : packet,
    );
    const { facts, warnings } = await accepted(serialise(tampered));
    assert.deepEqual(facts.userIds.map((user) => user.userId), ["Alice Example <alice@example.org>"]);
    assert.ok(warnings.some((warning) => warning.code === "KEYSIGN_WARN_USERIDS_REMOVED" && warning.message.includes("Mallory Work")));
  });
});

describe("signing capability", () => {
  it("accepts a certify-only primary with a back-signed signing subkey", async () => {
    const { facts } = await accepted(key("cert-only-primary.asc"));
    assert.equal(facts.canSign, true);
    assert.deepEqual(facts.subkeys.map((subkey) => subkey.capabilities), [["sign"]]);
  });

  it("refuses when the only signing subkey lacks its back-signature", async () => {
    await refused(key("cert-only-no-backsig.asc"), "KEYSIGN_ERR_KEY_CANNOT_SIGN", /neither the primary key nor any properly bound subkey/);
  });

  it("reports what the good key can do", async () => {
    const { facts } = await accepted(key("ed25519-good.asc"));
    assert.equal(facts.canSign, true);
    assert.equal(facts.canEncrypt, true);
    assert.deepEqual(
      facts.subkeys.map((subkey) => [subkey.algorithm, subkey.capabilities]),
      [
        ["Curve25519 (ECDH)", ["encrypt"]],
        ["Ed25519", ["sign"]],
      ],
    );
    assert.match(facts.fingerprint, /^[0-9A-F]{40}$/);
    assert.equal(facts.createdAt.toISOString(), "2025-01-01T00:00:00.000Z");
  });
});

describe("limits, counted before stripping", () => {
  it("refuses 11 user IDs", async () => {
    await refused(key("eleven-uids.asc"), "KEYSIGN_ERR_KEY_TOO_MANY_USERIDS", /has 11 user IDs; at most 10/);
  });

  it("counts unbound user IDs too", async () => {
    const list = packets(key("ed25519-good.gpg"));
    const extra = Array.from({ length: 9 }, (_, i) => ({ tag: TAG.userId, body: Buffer.from(`Extra ${i} <extra${i}@example.org>`), partial: false }));
    await refused(serialise([...list.slice(0, 1), ...extra, ...list.slice(1)]), "KEYSIGN_ERR_KEY_TOO_MANY_USERIDS", /has 11 user IDs/);
  });

  it("refuses 9 subkeys", async () => {
    await refused(key("nine-subkeys.asc"), "KEYSIGN_ERR_KEY_TOO_MANY_SUBKEYS", /has 9 subkeys; at most 8/);
  });

  it("refuses more than 200 signature packets (250 third-party certifications)", async () => {
    await refused(key("flooded-250.asc"), "KEYSIGN_ERR_KEY_TOO_MANY_SIGNATURES", /carries 252 signatures; at most 200/);
  });
});

describe("user IDs", () => {
  const bad: Array<[string, string, RegExp]> = [
    ["uid-bidi.asc", "KEYSIGN_ERR_USERID_CHARACTERS", /"Mallory \\u\{202E\}gro\.elpmaxe@ <mallory@example\.org>"/],
    ["uid-control.asc", "KEYSIGN_ERR_USERID_CHARACTERS", /"Bell\\u\{7\} Ringer/],
    ["uid-zero-width.asc", "KEYSIGN_ERR_USERID_CHARACTERS", /"Zero\\u\{200B\}Width/],
    ["uid-too-long.asc", "KEYSIGN_ERR_USERID_TOO_LONG", /is 269 bytes long; at most 256/],
    ["uid-bad-email.asc", "KEYSIGN_ERR_USERID_FORMAT", /"bad@@example\.\.org" is not a plain email address/],
    ["uid-invalid-utf8.asc", "KEYSIGN_ERR_USERID_ENCODING", /is not valid UTF-8/],
    ["uid-no-email.asc", "KEYSIGN_ERR_KEY_NO_EMAIL", /none of the key's valid user IDs contains an email address/],
  ];
  for (const [name, code, message] of bad) {
    it(`refuses ${name}`, async () => {
      await refused(key(name), code, message);
    });
  }

  it("quotes hostile user IDs without their raw control or bidi characters", async () => {
    for (const name of ["uid-bidi.asc", "uid-control.asc", "uid-zero-width.asc"]) {
      const result = await inspectKey(key(name), OPTIONS);
      assert.ok(!result.ok);
      if (!result.ok) assert.doesNotMatch(result.problems[0]?.message ?? "", /[\p{Cc}\p{Cf}]/u);
    }
  });

  it("accepts a name-only user ID next to an address, lower-casing the address", async () => {
    const { facts } = await accepted(key("uid-mixed.asc"));
    assert.deepEqual(facts.userIds, [
      { userId: "Gina Example <Gina@Example.org>", name: "Gina Example", email: "gina@example.org" },
      { userId: "Gina (no address)", name: "Gina (no address)", email: null },
    ]);
  });
});

describe("stripping", () => {
  it("strips third-party certifications", async () => {
    const { minimal, warnings } = await accepted(key("third-party-certified.asc"));
    assert.ok(warnings.some((warning) => warning.code === "KEYSIGN_WARN_CERTIFICATIONS_REMOVED" && warning.message.includes("removed 2")));
    assert.equal(countTag(minimal, TAG.signature), 1);
  });

  it("strips photo IDs (user attributes)", async () => {
    assert.equal(countTag(await dearmored("photo.asc"), TAG.userAttribute), 1);
    const { minimal, warnings } = await accepted(key("photo.asc"));
    assert.equal(countTag(minimal, TAG.userAttribute), 0);
    assert.ok(warnings.some((warning) => warning.code === "KEYSIGN_WARN_USER_ATTRIBUTES_REMOVED"));
  });

  it("strips unbound user IDs, with or without another key's signature", async () => {
    const { minimal, facts } = await accepted(key("unbound-uid.asc"));
    assert.deepEqual(userIdsOf(minimal), ["Holder Example <holder@example.org>"]);
    assert.deepEqual(facts.userIds.map((user) => user.userId), ["Holder Example <holder@example.org>"]);
  });

  it("strips revoked user IDs", async () => {
    const { minimal, warnings } = await accepted(key("uid-revoked.asc"));
    assert.deepEqual(userIdsOf(minimal), ["Kept Name <kept@example.org>"]);
    assert.ok(warnings.some((warning) => warning.message.includes("revoked by the key's owner")));
  });

  it("strips a signing subkey without back-signature", async () => {
    const { minimal, facts, warnings } = await accepted(key("subkey-no-backsig.asc"));
    assert.equal(countTag(minimal, TAG.publicSubkey), 0);
    assert.deepEqual(facts.subkeys, []);
    assert.ok(warnings.some((warning) => warning.code === "KEYSIGN_WARN_SUBKEY_REMOVED" && warning.message.includes("no valid back-signature")));
  });

  it("strips revoked and expired subkeys", async () => {
    const { minimal, facts, warnings } = await accepted(key("subkeys-revoked-expired.asc"));
    assert.equal(countTag(minimal, TAG.publicSubkey), 1);
    assert.equal(facts.subkeys.length, 1);
    const reasons = warnings.filter((warning) => warning.code === "KEYSIGN_WARN_SUBKEY_REMOVED").map((warning) => warning.message);
    assert.equal(reasons.length, 2);
    assert.ok(reasons.some((reason) => reason.includes("it has been revoked")));
    assert.ok(reasons.some((reason) => reason.includes("it expired on 2025-05-31")));
  });

  it("rebuilds every unhashed area: only the issuer key ID (and GnuPG's unhashed back-signature) remain", async () => {
    const list = packets(key("ed25519-good.gpg"));
    const junk = Buffer.from("unhashed junk that must not survive");
    const poisoned = list.map((packet) => {
      const layout = packet.tag === TAG.signature ? readSignatureLayout(packet.body) : null;
      if (!layout) return packet;
      return { ...packet, body: withUnhashedArea(layout, [...layout.unhashed, { type: 20, critical: false, body: junk }]) };
    });
    const { minimal } = await accepted(serialise(poisoned));
    assert.equal(Buffer.from(minimal).indexOf(junk), -1);
    for (const packet of packets(minimal).filter((candidate) => candidate.tag === TAG.signature)) {
      const layout = readSignatureLayout(packet.body);
      assert.ok(layout);
      const types = layout.unhashed.map((sub) => sub.type);
      assert.ok([[SUBPACKET.issuerKeyId], [SUBPACKET.issuerKeyId, SUBPACKET.embeddedSignature]].some((allowed) => JSON.stringify(allowed) === JSON.stringify(types)));
    }
  });

  it("keeps the newest direct-key self-signature right after the primary", async () => {
    const { minimal } = await accepted(key("direct-key-sig.asc"));
    const list = packets(minimal);
    assert.equal(list[1]?.tag, TAG.signature);
    assert.equal(readSignatureLayout(list[1]?.body ?? new Uint8Array())?.signatureType, 0x1f);
  });

  it("merges a user ID that appears twice", async () => {
    const list = packets(key("ed25519-good.gpg"));
    const { minimal } = await accepted(serialise([...list.slice(0, 3), ...list.slice(1, 3), ...list.slice(3)]));
    assert.deepEqual(minimal, (await accepted(key("ed25519-good.gpg"))).minimal);
  });

  it("drops marker and trust packets", async () => {
    const list = packets(key("ed25519-good.gpg"));
    const marker = { tag: TAG.marker, body: Buffer.from("PGP"), partial: false };
    const trust = { tag: TAG.trust, body: Buffer.from([0, 0]), partial: false };
    const { minimal } = await accepted(serialise([marker, ...list.slice(0, 3), trust, ...list.slice(3)]));
    assert.equal(countTag(minimal, TAG.marker) + countTag(minimal, TAG.trust), 0);
  });

  it("keeps the primary, user IDs and kept subkeys, each with one signature", async () => {
    const { minimal } = await accepted(key("ed25519-good.asc"));
    assert.deepEqual(
      packets(minimal).map((packet) => packet.tag),
      [TAG.publicKey, TAG.userId, TAG.signature, TAG.userId, TAG.signature, TAG.publicSubkey, TAG.signature, TAG.publicSubkey, TAG.signature],
    );
  });
});

describe("canonical copy", () => {
  it("is deterministic and the same for armored and binary uploads", async () => {
    const first = await accepted(key("ed25519-good.asc"));
    const second = await accepted(key("ed25519-good.asc"));
    const binary = await accepted(key("ed25519-good.gpg"));
    assert.deepEqual(first.minimal, second.minimal);
    assert.deepEqual(first.minimal, binary.minimal);
  });

  it("re-inspecting the minimal copy gives the same bytes and facts", async () => {
    const first = await accepted(key("third-party-certified.asc"));
    const again = await accepted(first.minimal);
    assert.deepEqual(again.minimal, first.minimal);
    assert.deepEqual(again.facts, first.facts);
    assert.deepEqual(again.warnings, []);
  });
});

describe("canonicalizeKey", () => {
  it("holds exactly the requested user IDs, in key order", async () => {
    const { minimal } = await accepted(key("ed25519-good.asc"));
    const one = await canonicalizeKey(minimal, ["Alice Work <alice@work.example>"], OPTIONS);
    assert.deepEqual(one.userIds, ["Alice Work <alice@work.example>"]);
    assert.deepEqual(userIdsOf(one.binary), ["Alice Work <alice@work.example>"]);
    const both = await canonicalizeKey(minimal, ["Alice Work <alice@work.example>", "Alice Example <alice@example.org>"], OPTIONS);
    assert.deepEqual(both.userIds, ["Alice Example <alice@example.org>", "Alice Work <alice@work.example>"]);
    assert.deepEqual(both.binary, minimal);
  });

  it("is deterministic, with a matching SHA-256, fingerprint and armor", async () => {
    const { minimal, facts } = await accepted(key("rsa3072.asc"));
    const first = await canonicalizeKey(minimal, ["Bob Example <bob@example.org>"], OPTIONS);
    const second = await canonicalizeKey(minimal, ["Bob Example <bob@example.org>"], OPTIONS);
    assert.deepEqual(first, second);
    assert.equal(first.sha256, createHash("sha256").update(first.binary).digest("hex"));
    assert.equal(first.fingerprint, facts.fingerprint);
    assert.match(first.armored, /^-----BEGIN PGP PUBLIC KEY BLOCK-----\n/);
    assert.deepEqual((await unarmor(first.armored)).data, first.binary);
  });

  it("refuses a user ID that is not one of the key's valid user IDs", async () => {
    const { minimal } = await accepted(key("unbound-uid.asc"));
    for (const userId of ["Unbound <unbound@example.org>", "Someone Else <else@example.org>"]) {
      await assert.rejects(canonicalizeKey(minimal, [userId], OPTIONS), (error: unknown) => {
        assert.ok(error instanceof KeyPolicyError);
        assert.equal(error.code, "KEYSIGN_ERR_USERID_NOT_IN_KEY");
        assert.ok(error.message.includes(JSON.stringify(userId)));
        return true;
      });
    }
  });

  it("refuses an empty selection", async () => {
    const { minimal } = await accepted(key("ed25519-good.asc"));
    await assert.rejects(canonicalizeKey(minimal, [], OPTIONS), { code: "KEYSIGN_ERR_USERID_NONE_SELECTED" });
  });

  it("re-checks the key at options.now", async () => {
    const { minimal } = await accepted(key("ed25519-good.asc"));
    const later = { ...OPTIONS, now: new Date("2031-01-01T00:00:00Z") };
    await assert.rejects(canonicalizeKey(minimal, ["Alice Example <alice@example.org>"], later), { code: "KEYSIGN_ERR_KEY_EXPIRED" });
  });

  it("refuses secret key material given as the minimal copy", async () => {
    await assert.rejects(canonicalizeKey(key("secret-binary.gpg"), ["Alice Example <alice@example.org>"], OPTIONS), (error: unknown) => {
      assert.ok(error instanceof KeyPolicyError);
      assert.equal(error.code, "KEYSIGN_ERR_KEY_SECRET");
      assert.match(error.message, SECRET_MESSAGE);
      return true;
    });
  });
});
