/**
 * Checking a status feed as an install receives it: the detached signature over the exact bytes
 * by the publication key the install pinned, a strictly parsed body, the same publication key
 * named inside, a `validUntil` still ahead (a feed that stopped being re-signed is frozen, and
 * could hide a revocation) and a sequence no lower than the last one accepted (a replayed older
 * feed is a rollback). Equal sequences pass, so running a sync twice is harmless.
 */
import { createMessage, enums, LiteralDataPacket, type PublicKey } from "openpgp";
import { FeedRefusedError } from "../../errors.ts";
import { dearmor, splitArmor } from "../key-policy/armor.ts";
import { isWeakHash } from "../key-policy/binding.ts";
import { formatFingerprint } from "../key-policy/fingerprint.ts";
import { scanPackets, TAG } from "../key-policy/packets.ts";
import { parseSignature, type ParsedSignature } from "../key-policy/structure.ts";
import { inspectionConfig } from "../openpgp-config.ts";
import { issuerFingerprint } from "../transfer/envelope.ts";
import { FEED_FORMAT, FEED_VERSION, type Feed, type FeedEntry } from "./feed.ts";
import type { KeyState } from "./key-status.ts";

/** Room for about 20,000 entries of some 420 bytes each; far more than the programme certifies. */
export const MAX_FEED_BYTES = 12 * 1024 * 1024;
export const MAX_FEED_ENTRIES = 20_000;
/** An armored Ed25519 or RSA-4096 signature is well under 2 KiB. */
export const MAX_FEED_SIGNATURE_BYTES = 16 * 1024;

export interface FeedToCheck {
  body: Uint8Array;
  /** The armored detached signature (`feed.json.sig`). */
  signature: string;
  /** The publication key the install pinned. */
  publicationKey: PublicKey;
  /** The highest sequence this install accepted from this source, or null on the first run. */
  lastSequence: number | null;
  now: Date;
}

/** The feed, when every rule holds; otherwise throws a FeedRefusedError naming the rule. */
export async function verifyFeed(check: FeedToCheck): Promise<Feed> {
  if (check.body.length > MAX_FEED_BYTES) {
    throw new FeedRefusedError("too_large", `The feed is ${check.body.length} bytes, more than the ${MAX_FEED_BYTES} a feed may have.`);
  }
  await checkSignature(check.body, check.signature, check.publicationKey);
  const feed = parseFeed(check.body);
  const pinned = check.publicationKey.getFingerprint().toUpperCase();
  if (feed.publicationKey !== pinned) {
    throw new FeedRefusedError(
      "publication_key",
      `The feed names publication key ${formatFingerprint(feed.publicationKey)}, not the pinned ${formatFingerprint(pinned)}. If the portal changed its publication key, pin the new one after comparing its fingerprint with the portal's.`,
    );
  }
  if (Date.parse(feed.validUntil) <= check.now.getTime()) {
    throw new FeedRefusedError(
      "stale",
      `The feed expired at ${feed.validUntil} (it is now ${check.now.toISOString()}): the source is serving a frozen copy, which could hide a revocation. Check that the portal or its mirror is updating, and this machine's clock.`,
    );
  }
  if (check.lastSequence !== null && feed.sequence < check.lastSequence) {
    throw new FeedRefusedError(
      "rollback",
      `The feed has sequence ${feed.sequence}, older than sequence ${check.lastSequence} accepted before: an old copy is being replayed, which could hide a revocation. Check the source.`,
    );
  }
  return feed;
}

async function checkSignature(body: Uint8Array, armored: string, publicationKey: PublicKey): Promise<void> {
  const signature = await readSignature(armored);
  const expected = publicationKey.getFingerprint().toUpperCase();
  const issuer = issuerFingerprint(signature);
  if (issuer !== expected) {
    throw new FeedRefusedError(
      "signer",
      `The feed is signed by ${issuer ? `key ${formatFingerprint(issuer)}` : "an unnamed key"}, not by the pinned publication key ${formatFingerprint(expected)}.`,
    );
  }
  if (signature.layout.signatureType !== enums.signature.binary || isWeakHash(signature.layout.hashAlgorithm)) {
    throw new FeedRefusedError("signature", "The feed's signature is not a binary-document signature with a strong hash.");
  }
  const config = inspectionConfig({ minRsaBits: 2048 });
  const literal = (await createMessage({ binary: body })).packets.findPacket(enums.packet.literalData);
  try {
    if (!(literal instanceof LiteralDataPacket)) throw new Error("no literal data");
    await signature.packet.verify(publicationKey.keyPacket, enums.signature.binary, literal, signature.packet.created ?? new Date(0), true, config);
  } catch {
    throw new FeedRefusedError("signature", "The feed's signature does not verify: the feed was changed after it was signed, or damaged on the way.");
  }
}

async function readSignature(armored: string): Promise<ParsedSignature> {
  const bad = (why: string) => new FeedRefusedError("signature", `The feed's signature file is unusable: ${why}.`);
  if (armored.length > MAX_FEED_SIGNATURE_BYTES) throw bad(`it is larger than ${MAX_FEED_SIGNATURE_BYTES} bytes`);
  const split = splitArmor(armored);
  if (!split.ok || split.blocks.length !== 1 || split.blocks[0]?.label !== "SIGNATURE") throw bad("it is not one armored detached signature");
  const binary = await dearmor(split.blocks[0].text, inspectionConfig({ minRsaBits: 2048 }));
  const scan = binary ? scanPackets(binary) : null;
  if (!scan?.complete || scan.packets.length !== 1 || scan.packets[0]?.tag !== TAG.signature) throw bad("it is not exactly one signature packet");
  const parsed = parseSignature(scan.packets[0].body);
  if (parsed === null) throw bad("it is not a version 4 signature");
  return parsed;
}

type Json = Record<string, unknown>;

const FEED_FIELDS = ["format", "version", "sequence", "generatedAt", "validUntil", "publicationKey", "entries"];
const ENTRY_FIELDS = ["fingerprint", "userIdSha256", "certifiedAt", "expiresAt", "state", "revokedAt", "reason", "keySha256"];
const STATES: readonly KeyState[] = ["certified", "expired", "revoked"];
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const FINGERPRINT = /^[0-9A-F]{40}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const REASON = /^[a-z_]{1,64}$/;

function malformed(why: string): FeedRefusedError {
  return new FeedRefusedError("malformed", `The feed is signed but not a feed this version understands: ${why}.`);
}

/** Parses the body strictly: exactly the documented fields, each of its documented type. */
export function parseFeed(body: Uint8Array): Feed {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    throw malformed("it is not UTF-8 JSON");
  }
  const top = exactObject(value, FEED_FIELDS, "the feed");
  if (top.format !== FEED_FORMAT) throw malformed(`format is not "${FEED_FORMAT}"`);
  if (top.version !== FEED_VERSION) throw malformed(`version is not ${FEED_VERSION}`);
  if (typeof top.sequence !== "number" || !Number.isSafeInteger(top.sequence) || top.sequence < 1) throw malformed("sequence is not a positive whole number");
  if (!Array.isArray(top.entries)) throw malformed("entries is not a list");
  if (top.entries.length > MAX_FEED_ENTRIES) throw malformed(`it has ${top.entries.length} entries, more than ${MAX_FEED_ENTRIES}`);
  return {
    format: FEED_FORMAT,
    version: FEED_VERSION,
    sequence: top.sequence,
    generatedAt: timestamp(top.generatedAt, "generatedAt"),
    validUntil: timestamp(top.validUntil, "validUntil"),
    publicationKey: matching(top.publicationKey, FINGERPRINT, "publicationKey", "40 upper-case hex digits"),
    entries: top.entries.map((entry: unknown, index) => parseEntry(entry, index)),
  };
}

function parseEntry(value: unknown, index: number): FeedEntry {
  const entry = exactObject(value, ENTRY_FIELDS, `entry ${index + 1}`);
  const where = (field: string) => `entry ${index + 1}'s ${field}`;
  const state = STATES.find((known) => known === entry.state);
  if (state === undefined) throw malformed(`${where("state")} is not one of ${STATES.join(", ")}`);
  return {
    fingerprint: matching(entry.fingerprint, FINGERPRINT, where("fingerprint"), "40 upper-case hex digits"),
    userIdSha256: matching(entry.userIdSha256, SHA256, where("userIdSha256"), "64 lower-case hex digits"),
    certifiedAt: timestamp(entry.certifiedAt, where("certifiedAt")),
    expiresAt: entry.expiresAt === null ? null : timestamp(entry.expiresAt, where("expiresAt")),
    state,
    revokedAt: entry.revokedAt === null ? null : timestamp(entry.revokedAt, where("revokedAt")),
    reason: entry.reason === null ? null : matching(entry.reason, REASON, where("reason"), "a reason code"),
    keySha256: entry.keySha256 === null ? null : matching(entry.keySha256, SHA256, where("keySha256"), "64 lower-case hex digits"),
  };
}

function exactObject(value: unknown, fields: readonly string[], what: string): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw malformed(`${what} is not an object`);
  const keys = Object.keys(value);
  const missing = fields.filter((field) => !keys.includes(field));
  const extra = keys.filter((key) => !fields.includes(key));
  if (missing.length > 0) throw malformed(`${what} lacks ${missing.join(", ")}`);
  if (extra.length > 0) throw malformed(`${what} has unknown fields (${extra.slice(0, 3).join(", ")})`);
  return value as Json;
}

function matching(value: unknown, pattern: RegExp, what: string, expected: string): string {
  if (typeof value !== "string" || !pattern.test(value)) throw malformed(`${what} is not ${expected}`);
  return value;
}

function timestamp(value: unknown, what: string): string {
  const text = matching(value, TIMESTAMP, what, "a UTC timestamp");
  if (Number.isNaN(Date.parse(text))) throw malformed(`${what} is not a real date`);
  return text;
}
