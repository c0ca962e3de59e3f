/**
 * Checks a published key fetched for an install before GnuPG imports it. The feed is signed but
 * the key files beside it are not, so each must be exactly the key the feed names (one primary
 * key, that fingerprint), only the packets a published form holds (no secret keys, no photos, no
 * second key smuggled in), and hold at least as many certification revocations as the signed
 * feed lists revoked certifications of it: a source that withholds a revocation is caught.
 */
import { createHash } from "node:crypto";
import { KeysignError } from "../../errors.ts";
import { dearmor, splitArmor } from "../key-policy/armor.ts";
import { formatFingerprint } from "../key-policy/fingerprint.ts";
import { scanPackets, TAG, toHex, type Packet } from "../key-policy/packets.ts";
import { inspectionConfig } from "../openpgp-config.ts";

/** A published form is some kilobytes; a key that grew past this is not one the portal made. */
export const MAX_FETCHED_KEY_BYTES = 1024 * 1024;
const ALLOWED_TAGS: ReadonlySet<number> = new Set([TAG.publicKey, TAG.userId, TAG.signature, TAG.publicSubkey]);
const CERTIFICATION_REVOCATION = 0x30;

export class FetchedKeyError extends KeysignError {
  override name = "FetchedKeyError";
  constructor(fingerprint: string, why: string) {
    super("KEYSIGN_ERR_FETCHED_KEY", `The published key ${formatFingerprint(fingerprint)} was refused: ${why}.`, 422);
  }
}

export interface FetchedKeyCheck {
  /** The armored (or binary) key as served. */
  bytes: Uint8Array;
  /** Upper-case hex fingerprint the signed feed names. */
  fingerprint: string;
  /** How many of its certifications the signed feed lists as revoked. */
  revokedCertifications: number;
}

/** The key's binary packets, ready for `gpg --import`; throws a FetchedKeyError naming the rule. */
export async function checkFetchedKey(check: FetchedKeyCheck): Promise<Uint8Array> {
  const refuse = (why: string) => new FetchedKeyError(check.fingerprint, why);
  if (check.bytes.length > MAX_FETCHED_KEY_BYTES) throw refuse(`it is larger than ${MAX_FETCHED_KEY_BYTES} bytes`);
  const binary = await binaryOf(check.bytes);
  if (binary === null) throw refuse("it is not one armored public key block");
  const scan = scanPackets(binary);
  if (!scan.complete) throw refuse("its packets are damaged");
  const stray = scan.packets.find((packet) => !ALLOWED_TAGS.has(packet.tag));
  if (stray) throw refuse(`it holds a packet of type ${stray.tag}, which a published key never has`);
  const primaries = scan.packets.filter((packet) => packet.tag === TAG.publicKey);
  const [first] = scan.packets;
  if (primaries.length !== 1 || first?.tag !== TAG.publicKey) throw refuse(`it holds ${primaries.length} primary keys, not exactly one`);
  const served = v4Fingerprint(first);
  if (served !== check.fingerprint) throw refuse(`it is key ${served ? formatFingerprint(served) : "of another version"}`);
  const revocations = scan.packets.filter((packet) => packet.tag === TAG.signature && packet.body[0] === 4 && packet.body[1] === CERTIFICATION_REVOCATION).length;
  if (revocations < check.revokedCertifications) {
    throw refuse(`the signed feed lists ${check.revokedCertifications} revoked certifications of it, but the key holds ${revocations} revocations; the source is withholding a revocation`);
  }
  return binary;
}

async function binaryOf(bytes: Uint8Array): Promise<Uint8Array | null> {
  if (((bytes[0] ?? 0) & 0x80) !== 0) return bytes;
  const split = splitArmor(Buffer.from(bytes).toString("utf8"));
  if (!split.ok || split.blocks.length !== 1 || split.blocks[0]?.label !== "PUBLIC KEY BLOCK") return null;
  return dearmor(split.blocks[0].text, inspectionConfig({ minRsaBits: 2048 }));
}

/** RFC 4880 §12.2: SHA-1 over 0x99, the two-octet body length and the key packet body. */
function v4Fingerprint(packet: Packet): string | null {
  if (packet.body[0] !== 4) return null;
  const header = Uint8Array.of(0x99, (packet.body.length >> 8) & 0xff, packet.body.length & 0xff);
  return toHex(createHash("sha1").update(header).update(packet.body).digest()).toUpperCase();
}
