/**
 * What the HKP index and the static export list of a key (algorithm, size, creation, expiry),
 * read from a stored canonical copy without verifying anything again: every signature in it was
 * verified when it was stored (canonical-union.ts). Parsing the key with openpgp.js and checking
 * its self-signatures cost about a millisecond a key, most of a 10,000-key export.
 */
import { PublicKeyPacket } from "openpgp";
import { readSignatureLayout } from "../key-policy/subpackets.ts";
import { parseKeyPacket } from "../key-policy/structure.ts";
import { rawTime, SUBPACKET_TYPE } from "../transfer/subpacket-allowlist.ts";
import { readLayout } from "./canonical-union.ts";

/** RFC 4880 §5.2.3.6: seconds after the key's creation; 0 or absent: it does not expire. */
const KEY_EXPIRATION_TIME = 9;

/** The size an index gives an elliptic-curve key, as other keyservers list it: its curve's. */
const CURVE_BITS: Readonly<Record<string, number>> = {
  ed25519Legacy: 256,
  curve25519Legacy: 256,
  nistP256: 256,
  nistP384: 384,
  nistP521: 521,
  brainpoolP256r1: 256,
  brainpoolP384r1: 384,
  brainpoolP512r1: 512,
  secp256k1: 256,
};

export interface KeyIndexFacts {
  algorithm: number;
  bits: number;
  createdAt: Date;
  expiresAt: Date | null;
}

export async function keyIndexFacts(canonicalKey: Uint8Array): Promise<KeyIndexFacts> {
  const layout = readLayout(canonicalKey);
  const primary = await parseKeyPacket(new PublicKeyPacket(), layout.primary.raw);
  if (!primary) throw new Error("the stored key's primary key does not parse");
  // The newest self-signature says when the key expires, as GnuPG and openpgp.js read it.
  const selfSignatures = [layout.primary, ...layout.userIds].flatMap((component) => (component.selfSignature ? [component.selfSignature] : []));
  let newest: { created: number; lifetime: number | null } | null = null;
  for (const body of selfSignatures) {
    const hashed = readSignatureLayout(body)?.hashed ?? [];
    const created = rawTime(hashed, SUBPACKET_TYPE.created) ?? 0;
    if (newest === null || created > newest.created) newest = { created, lifetime: rawTime(hashed, KEY_EXPIRATION_TIME) };
  }
  const lifetime = newest?.lifetime ?? 0;
  return {
    algorithm: primary.algorithm,
    bits: keySize(primary.getAlgorithmInfo()),
    createdAt: primary.created,
    expiresAt: lifetime === 0 ? null : new Date(primary.created.getTime() + lifetime * 1000),
  };
}

function keySize(info: { bits?: number; curve?: string }): number {
  return info.bits ?? CURVE_BITS[info.curve ?? ""] ?? 0;
}
