/**
 * Checks a published key fetched for an install before GnuPG imports it. The feed is signed but
 * the key files beside it are not, so each must be exactly the key the feed names (one primary
 * key, that fingerprint), only the packets a published form holds (no secret keys, no photos, no
 * second key smuggled in), and hold at least as many certification revocations as the signed
 * feed lists revoked certifications of it: a source that withholds a revocation is caught.
 * Then the key must be exactly the published form whose SHA-256 the feed gives: a source can
 * neither leave out the owner's revocation of a subkey or of the key (the feed does not count
 * those) nor add packets GnuPG would merge into the install's copy.
 * A revocation counts only when it verifies against one of the install's trust roots (the
 * master key FreePBX trusts): GnuPG drops one that does not verify, so a source could otherwise
 * replace the master's revocation by any packet of the same type and still pass the count.
 */
import { createHash } from "node:crypto";
import { enums, PublicKeyPacket, type Config } from "openpgp";
import { KeysignError } from "../../errors.ts";
import { dearmor, splitArmor } from "../key-policy/armor.ts";
import { formatFingerprint, v4Fingerprint } from "../key-policy/fingerprint.ts";
import { createdAt, isIssuedBy } from "../key-policy/binding.ts";
import { scanPackets, TAG, type Packet } from "../key-policy/packets.ts";
import { parseKeyPacket, parseSignature } from "../key-policy/structure.ts";
import { inspectionConfig } from "../openpgp-config.ts";
import { signatureIdentity } from "./canonical-union.ts";

/** A published form is some kilobytes; a key that grew past this is not one the portal made. */
export const MAX_FETCHED_KEY_BYTES = 1024 * 1024;
const ALLOWED_TAGS: ReadonlySet<number> = new Set([TAG.publicKey, TAG.userId, TAG.signature, TAG.publicSubkey]);
/** Revocations checked per key before it is refused: a published key has one per revoked certification. */
export const MAX_REVOCATION_CHECKS = 64;

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
  /** The keys whose revocations count: the install's trust roots (FreePBX: the master key). */
  certifiers: readonly PublicKeyPacket[];
  /** The SHA-256 (hex) of the published form the signed feed names, or null when it names none. */
  sha256: string | null;
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
  if (check.revokedCertifications > 0) await checkRevocations(scan.packets, first, check);
  if (check.sha256 !== null && createHash("sha256").update(binary).digest("hex") !== check.sha256) {
    throw refuse("it is not the published form the signed feed names: the source changed it (added or left out packets), or the key was updated after the feed was made; run the sync again, and if this stays, check the source");
  }
  return binary;
}

async function checkRevocations(packets: readonly Packet[], first: Packet, check: FetchedKeyCheck): Promise<void> {
  const refuse = (why: string) => new FetchedKeyError(check.fingerprint, why);
  if (check.certifiers.length === 0) throw refuse("the signed feed lists revoked certifications of it, but no key in this GnuPG home has ultimate ownertrust to check the revocations against (import the master key with ultimate ownertrust, as FreePBX does)");
  const revocations = await verifiedRevocations(packets, first, check);
  if (revocations < check.revokedCertifications) {
    throw refuse(`the signed feed lists ${check.revokedCertifications} revoked certifications of it, but the key holds ${revocations} valid revocations by the master key; the source is withholding a revocation`);
  }
}

/**
 * Distinct certification revocations (0x30) of the key's user IDs that verify against a
 * certifier, up to what the feed asks for; at most MAX_REVOCATION_CHECKS are checked.
 */
async function verifiedRevocations(packets: readonly Packet[], first: Packet, check: FetchedKeyCheck): Promise<number> {
  const primary = await parseKeyPacket(new PublicKeyPacket(), first.body);
  if (!primary) return 0;
  const config: Config = inspectionConfig({ minRsaBits: 2048 });
  const valid = new Set<string>();
  let userId: Uint8Array | null = null;
  let checks = 0;
  for (const packet of packets) {
    if (packet.tag === TAG.userId || packet.tag === TAG.publicSubkey) userId = packet.tag === TAG.userId ? packet.body : null;
    if (packet.tag !== TAG.signature || userId === null || packet.body[1] !== enums.signature.certRevocation) continue;
    const signature = parseSignature(packet.body);
    const certifier = signature && check.certifiers.find((key) => isIssuedBy(signature, key));
    if (!signature || !certifier || valid.has(signatureIdentity(packet.body))) continue;
    if ((checks += 1) > MAX_REVOCATION_CHECKS) break;
    const signed = userId;
    const data = { key: primary, userID: { write: () => signed } };
    const verified = await signature.packet.verify(certifier, enums.signature.certRevocation, data, createdAt(signature), false, config).then(
      () => true,
      () => false,
    );
    if (verified) valid.add(signatureIdentity(packet.body));
    if (valid.size >= check.revokedCertifications) break;
  }
  return valid.size;
}

async function binaryOf(bytes: Uint8Array): Promise<Uint8Array | null> {
  if (((bytes[0] ?? 0) & 0x80) !== 0) return bytes;
  const split = splitArmor(Buffer.from(bytes).toString("utf8"));
  if (!split.ok || split.blocks.length !== 1 || split.blocks[0]?.label !== "PUBLIC KEY BLOCK") return null;
  return dearmor(split.blocks[0].text, inspectionConfig({ minRsaBits: 2048 }));
}

