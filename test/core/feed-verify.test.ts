/**
 * What an install accepts of a status feed: each refusal has its own test that fails if the
 * rule is removed, checked on real signatures by real keys.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { before, describe, it } from "node:test";
import { readKey, type PublicKeyPacket } from "openpgp";
import { FeedRefusedError, type FeedRefusal } from "../../src/errors.ts";
import { encodeFeed, FEED_FORMAT, FEED_VERSION, type Feed, type FeedEntry } from "../../src/core/publication/feed.ts";
import { MAX_FEED_ENTRIES, verifyFeed, type FeedToCheck } from "../../src/core/publication/feed-verify.ts";
import { createHash } from "node:crypto";
import { concatBytes, scanPackets, writePacket } from "../../src/core/key-policy/packets.ts";
import { checkFetchedKey, FetchedKeyError } from "../../src/core/publication/fetched-key.ts";
import { signDetached } from "../../src/core/transfer/envelope.ts";
import { makeQueueKey, type SigningKey } from "../helpers/transfer.ts";

const NOW = new Date("2026-11-30T12:00:00.000Z");
const HOUR = 3_600_000;
const FINGERPRINT = "A1F3060C0EF461B223885A1AFE35E04AF04A56B9";

const ENTRY: FeedEntry = {
  fingerprint: FINGERPRINT,
  userIdSha256: "ab".repeat(32),
  certifiedAt: "2026-11-01T00:00:00.000Z",
  expiresAt: "2028-11-01T00:00:00.000Z",
  state: "revoked",
  revokedAt: "2026-11-20T00:00:00.000Z",
  reason: "key_compromised",
  keySha256: "cd".repeat(32),
};

describe("verifying a status feed", () => {
  let publication: SigningKey;
  let other: SigningKey;
  before(async () => {
    [publication, other] = await Promise.all([makeQueueKey(), makeQueueKey()]);
  });

  function feedOf(overrides: Partial<Record<keyof Feed, unknown>> = {}): Record<string, unknown> {
    return {
      format: FEED_FORMAT,
      version: FEED_VERSION,
      sequence: 7,
      generatedAt: new Date(NOW.getTime() - HOUR).toISOString(),
      validUntil: new Date(NOW.getTime() + 47 * HOUR).toISOString(),
      publicationKey: publication.fingerprint,
      entries: [ENTRY],
      ...overrides,
    };
  }

  /** The feed's bytes as the portal encodes them, signed by `signer` (the publication key unless said). */
  async function signed(content: Record<string, unknown>, signer = publication): Promise<Pick<FeedToCheck, "body" | "signature">> {
    const body = encodeFeed(content as unknown as Feed);
    return { body, signature: await signDetached(body, signer.privateKey, new Date(NOW.getTime() - HOUR)) };
  }

  function check(feed: Pick<FeedToCheck, "body" | "signature">, lastSequence: number | null = null) {
    return verifyFeed({ ...feed, publicationKey: publication.publicKey, lastSequence, now: NOW });
  }

  async function refusedWith(promise: Promise<unknown>, refusal: FeedRefusal, message: RegExp): Promise<void> {
    await assert.rejects(promise, (error: unknown) => {
      assert.ok(error instanceof FeedRefusedError, String(error));
      assert.equal(error.refusal, refusal);
      assert.equal(error.code, `KEYSIGN_ERR_FEED_${refusal.toUpperCase()}`);
      assert.match(error.message, message);
      return true;
    });
  }

  it("accepts a good feed, and the same sequence again (a second sync is harmless)", async () => {
    const feed = await signed(feedOf());
    assert.deepEqual((await check(feed)).entries, [ENTRY]);
    assert.equal((await check(feed, 7)).sequence, 7);
    assert.equal((await check(feed, 6)).sequence, 7);
  });

  it("refuses a feed with one byte changed after signing", async () => {
    const feed = await signed(feedOf());
    const body = new Uint8Array(feed.body);
    const at = Buffer.from(body).indexOf("revoked");
    body[at] = "c".charCodeAt(0);
    await refusedWith(check({ ...feed, body }), "signature", /changed after it was signed/);
  });

  it("refuses a feed signed by another key, naming both keys", async () => {
    await refusedWith(check(await signed(feedOf(), other)), "signer", new RegExp(`signed by key ${other.fingerprint.slice(0, 4)} .*not by the pinned publication key ${publication.fingerprint.slice(0, 4)}`));
  });

  it("refuses a signature file that is not one armored signature", async () => {
    const feed = await signed(feedOf());
    await refusedWith(check({ ...feed, signature: `${feed.signature}${feed.signature}` }), "signature", /not one armored detached signature/);
    await refusedWith(check({ ...feed, signature: "" }), "signature", /not one armored detached signature/);
  });

  it("refuses a frozen feed whose validUntil has passed", async () => {
    const feed = await signed(feedOf({ validUntil: new Date(NOW.getTime() - 1).toISOString() }));
    await refusedWith(check(feed), "stale", /expired at .*frozen copy, which could hide a revocation/);
    await refusedWith(check(await signed(feedOf({ validUntil: NOW.toISOString() }))), "stale", /frozen/);
  });

  it("refuses a rolled-back feed, older than the last one accepted", async () => {
    await refusedWith(check(await signed(feedOf()), 8), "rollback", /sequence 7, older than sequence 8 accepted before/);
  });

  it("refuses a feed that names another publication key", async () => {
    await refusedWith(check(await signed(feedOf({ publicationKey: other.fingerprint }))), "publication_key", /names publication key .*not the pinned/);
  });

  it("refuses malformed feeds, signed or not, with the field at fault", async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [feedOf({ format: "something-else" }), /format is not/],
      [feedOf({ version: 2 }), /version is not 1/],
      [feedOf({ sequence: "7" }), /sequence is not a positive whole number/],
      [feedOf({ sequence: 0 }), /sequence is not a positive whole number/],
      [feedOf({ sequence: 1.5 }), /sequence is not a positive whole number/],
      [feedOf({ validUntil: "tomorrow" }), /validUntil is not a UTC timestamp/],
      [feedOf({ publicationKey: publication.fingerprint.toLowerCase() }), /publicationKey is not 40 upper-case hex digits/],
      [feedOf({ entries: {} }), /entries is not a list/],
      [feedOf({ entries: [{ ...ENTRY, fingerprint: "XYZ" }] }), /entry 1's fingerprint is not 40 upper-case hex digits/],
      [feedOf({ entries: [ENTRY, { ...ENTRY, state: "withdrawn" }] }), /entry 2's state is not one of certified, expired, revoked/],
      [feedOf({ entries: [{ ...ENTRY, revokedAt: 5 }] }), /entry 1's revokedAt is not a UTC timestamp/],
      [feedOf({ entries: [{ ...ENTRY, extra: 1 }] }), /entry 1 has unknown fields \(extra\)/],
      [feedOf({ entries: Array.from({ length: MAX_FEED_ENTRIES + 1 }, () => ENTRY) }), new RegExp(`${MAX_FEED_ENTRIES + 1} entries, more than ${MAX_FEED_ENTRIES}`)],
      [{ ...feedOf(), note: "hi" }, /the feed has unknown fields \(note\)/],
    ];
    for (const [content, message] of cases) await refusedWith(check(await signed(content)), "malformed", message);
    const body = new TextEncoder().encode("{ not json");
    await refusedWith(check({ body, signature: await signDetached(body, publication.privateKey, NOW) }), "malformed", /not UTF-8 JSON/);
  });
});

describe("checking a fetched published key", () => {
  const fixture = (name: string) => readFile(path.resolve(import.meta.dirname, "../fixtures/keys", name));

  it("refuses a key that is not byte for byte the published form the feed names", async () => {
    const binary = await fixture("ed25519-good.gpg");
    const sha256 = createHash("sha256").update(binary).digest("hex");
    await checkFetchedKey({ bytes: await fixture("ed25519-good.asc"), fingerprint: FINGERPRINT, revokedCertifications: 0, certifiers: [], sha256 });
    // The same key with one packet left out (its last: a subkey binding), as a source that withholds a subkey's revocation would serve it.
    const packets = scanPackets(binary).packets;
    const shorter = concatBytes(packets.slice(0, -1).map((packet) => writePacket(packet.tag, packet.body)));
    await assert.rejects(checkFetchedKey({ bytes: shorter, fingerprint: FINGERPRINT, revokedCertifications: 0, certifiers: [], sha256 }), (error: unknown) => {
      assert.ok(error instanceof FetchedKeyError);
      assert.match(error.message, /is not the published form the signed feed names/);
      return true;
    });
  });

  it("accepts the key the feed names, armored or binary, and returns its packets", async () => {
    const binary = await checkFetchedKey({ bytes: await fixture("ed25519-good.asc"), fingerprint: FINGERPRINT, revokedCertifications: 0, certifiers: [], sha256: null });
    assert.deepEqual(Buffer.from(binary), await fixture("ed25519-good.gpg"));
    await checkFetchedKey({ bytes: await fixture("ed25519-good.gpg"), fingerprint: FINGERPRINT, revokedCertifications: 0, certifiers: [], sha256: null });
  });

  it("refuses another key, two keys, secret keys, photos, and a key whose listed revocation is withheld", async () => {
    const cases: Array<[string, number, RegExp]> = [
      ["rsa3072.asc", 0, /it is key /],
      ["two-keys-one-armor.asc", 0, /holds 2 primary keys/],
      ["two-armor-blocks.asc", 0, /not one armored public key block/],
      ["ed25519-good-secret.asc", 0, /not one armored public key block/],
      ["secret-binary.gpg", 0, /packet of type 5/],
      ["photo.asc", 0, /packet of type 17/],
      ["ed25519-good.asc", 1, /lists revoked certifications of it, but no key in this GnuPG home has ultimate ownertrust/],
    ];
    for (const [name, revokedCertifications, message] of cases) {
      await assert.rejects(checkFetchedKey({ bytes: await fixture(name), fingerprint: FINGERPRINT, revokedCertifications, certifiers: [], sha256: null }), (error: unknown) => {
        assert.ok(error instanceof FetchedKeyError, `${name}: ${String(error)}`);
        assert.match(error.message, message, name);
        return true;
      });
    }
  });

  it("refuses a key whose listed revocation is withheld from an install that trusts a master", async () => {
    // The install trusts a master, but the key it fetched carries no revocation by it although the feed lists one.
    const master = (await readKey({ armoredKey: (await fixture("rsa3072.asc")).toString("utf8") })).toPublic().keyPacket as PublicKeyPacket;
    await assert.rejects(
      checkFetchedKey({ bytes: await fixture("ed25519-good.asc"), fingerprint: FINGERPRINT, revokedCertifications: 1, certifiers: [master], sha256: null }),
      (error: unknown) => error instanceof FetchedKeyError && /holds 0 valid revocations by the master key; the source is withholding a revocation/.test(error.message),
    );
  });
});
