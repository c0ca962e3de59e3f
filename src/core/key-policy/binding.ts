/**
 * Which signatures bind what. Library defaults are not used for any of these decisions:
 * openpgp.js verifies the cryptography, and every rule about types, issuers and time is ours.
 *
 * Time rules (evaluated at `options.now`): a signature counts only if it was made no earlier
 * than the key it binds and no later than `now`. Among the self-signatures that verify, the
 * newest one is THE self-signature (RFC 9580 §5.2.3.10, as GnuPG does); if that one has
 * expired, the component is not bound, and an older signature cannot bring it back.
 */
import { enums, type Config, type PublicKeyPacket, type PublicSubkeyPacket } from "openpgp";
import { toHex } from "./packets.ts";
import { parseSignature, type ParsedSignature } from "./structure.ts";
import { findSubpackets, SUBPACKET } from "./subpackets.ts";
import { LIMITS } from "./types.ts";

export interface Verifier {
  primary: PublicKeyPacket;
  now: Date;
  config: Config;
  /**
   * Verifications that failed so far, for the whole key (see `LIMITS.maxFailedVerifications`).
   * `evaluateKey` always sets it; only tests of a single rule leave it out.
   */
  failures?: { count: number };
  /** Cost units spent on checks so far, for the whole key (see `LIMITS.maxVerificationCost`); set by `evaluateKey`. */
  spent?: { cost: number };
}

/** Thrown before a check that would take the key over `LIMITS.maxVerificationCost`. */
export class VerificationBudgetExceeded extends Error {
  override name = "VerificationBudgetExceeded";
}

/**
 * Thrown once more verifications have failed than a key as exported ever has: each costs a
 * public-key operation, and up to 200 signature packets (with many back-signatures embedded in
 * each) could otherwise claim to be self-signatures. `evaluateKey` turns it into a refusal.
 */
export class TooManyFailedVerifications extends Error {
  override name = "TooManyFailedVerifications";
}

/** What a signature covers: the shapes openpgp.js hashes for each signature class. */
export type SignedData = { key: PublicKeyPacket; userID: { write(): Uint8Array } } | { key: PublicKeyPacket; bind?: PublicSubkeyPacket };

export type Selection =
  | { state: "valid"; signature: ParsedSignature }
  | { state: "weak"; signature: ParsedSignature }
  | { state: "expired" }
  | { state: "none" };

/** MD5, SHA-1 and RIPEMD-160 (RFC 9580 §9.5): collisions are practical or close to it. */
export function isWeakHash(hashAlgorithm: number): boolean {
  return hashAlgorithm === enums.hash.md5 || hashAlgorithm === enums.hash.sha1 || hashAlgorithm === enums.hash.ripemd;
}

/**
 * True when the signature names `key` as its issuer and nothing in its hashed area names
 * another key. openpgp.js also takes the issuer from the unhashed area; GnuPG prefers the
 * hashed one, so a contradiction would make the two disagree about what is a self-signature.
 */
export function isIssuedBy(signature: ParsedSignature, key: PublicKeyPacket | PublicSubkeyPacket): boolean {
  if (!signature.packet.issuerKeyID.equals(key.getKeyID())) return false;
  const keyId = key.getKeyID().toHex();
  const fingerprint = key.getFingerprint();
  const hashed = signature.layout.hashed;
  const badKeyId = findSubpackets(hashed, SUBPACKET.issuerKeyId).some((sub) => toHex(sub.body) !== keyId);
  const badFingerprint = findSubpackets(hashed, SUBPACKET.issuerFingerprint).some((sub) => toHex(sub.body.subarray(1)) !== fingerprint);
  return !badKeyId && !badFingerprint;
}

/**
 * Newest self-signature of one of `types` that verifies; see the time rules above.
 *
 * "weak" reports a signature with a weak hash that we could not verify but that would be the
 * newest: openpgp.js refuses to check EdDSA/ECDSA signatures whose digest is shorter than the
 * curve (SHA-1 on Ed25519), while GnuPG 2.2 accepts them, so skipping it would let an older
 * signature stand in for the one GnuPG uses. Reporting it makes the key be refused for its
 * hash; this can only refuse more, never accept more.
 */
export async function selectNewest(
  signatures: readonly ParsedSignature[],
  types: readonly number[],
  data: SignedData,
  verifier: Verifier,
  notBefore: Date,
): Promise<Selection> {
  const candidates = signatures
    .map((signature, index) => ({ signature, index }))
    .filter(({ signature }) => types.includes(signature.layout.signatureType) && isIssuedBy(signature, verifier.primary))
    .filter(({ signature }) => inWindow(signature, notBefore, verifier.now))
    // Newest first; among equal times the later packet wins, so the choice is deterministic.
    .sort((a, b) => createdAt(b.signature).getTime() - createdAt(a.signature).getTime() || b.index - a.index);
  for (const { signature } of candidates) {
    if (await verifies(signature, verifier.primary, data, verifier)) {
      return isExpired(signature, verifier.now) ? { state: "expired" } : { state: "valid", signature };
    }
    if (isWeakHash(signature.layout.hashAlgorithm)) return { state: "weak", signature };
  }
  return { state: "none" };
}

/**
 * A revocation counts from its creation on, whatever its hash. One with a weak hash that
 * openpgp.js will not check (see `selectNewest`) counts too: GnuPG 2.2 would honour it, and
 * treating it as a revocation can only refuse.
 */
export async function hasRevocation(
  signatures: readonly ParsedSignature[],
  type: number,
  data: SignedData,
  verifier: Verifier,
): Promise<boolean> {
  for (const signature of signatures) {
    if (signature.layout.signatureType !== type || !isIssuedBy(signature, verifier.primary)) continue;
    if (createdAt(signature) > verifier.now) continue;
    if (isWeakHash(signature.layout.hashAlgorithm)) return true;
    if (await verifies(signature, verifier.primary, data, verifier)) return true;
  }
  return false;
}

/**
 * The first revocation of `type` by the primary that verifies, for publishing it (owner
 * updates). Unlike `hasRevocation`, a weak-hash one that cannot be checked does not count:
 * only a revocation that verifies is ever published.
 */
export async function findValidRevocation(
  signatures: readonly ParsedSignature[],
  type: number,
  data: SignedData,
  verifier: Verifier,
): Promise<ParsedSignature | null> {
  for (const signature of signatures) {
    if (signature.layout.signatureType !== type || !isIssuedBy(signature, verifier.primary)) continue;
    if (createdAt(signature) > verifier.now || isWeakHash(signature.layout.hashAlgorithm)) continue;
    if (await verifies(signature, verifier.primary, data, verifier)) return signature;
  }
  return null;
}

/**
 * The primary-key binding (back-)signature embedded in a subkey binding signature, which proves
 * that the subkey's owner agreed to be bound. GnuPG 2.2 writes it in the unhashed area, so both
 * areas are searched; `location` tells the canonical writer whether it must keep it.
 */
export interface BackSignature {
  location: "hashed" | "unhashed";
  signature: ParsedSignature;
}

export type BackSignatureSearch = { state: "valid"; back: BackSignature } | { state: "weak"; signature: ParsedSignature } | { state: "none" };

/** The first valid back-signature, hashed area first; a weak-hash one is reported as in `selectNewest`. */
export async function findBackSignature(binding: ParsedSignature, subkey: PublicSubkeyPacket, verifier: Verifier): Promise<BackSignatureSearch> {
  const areas = [
    { location: "hashed" as const, subpackets: binding.layout.hashed },
    { location: "unhashed" as const, subpackets: binding.layout.unhashed },
  ];
  let weak: ParsedSignature | null = null;
  for (const { location, subpackets } of areas) {
    for (const embedded of findSubpackets(subpackets, SUBPACKET.embeddedSignature)) {
      const signature = parseSignature(embedded.body);
      if (signature === null || !isBackSignatureCandidate(signature, subkey, verifier)) continue;
      if (await verifies(signature, subkey, { key: verifier.primary, bind: subkey }, verifier)) return { state: "valid", back: { location, signature } };
      if (isWeakHash(signature.layout.hashAlgorithm)) weak = signature;
    }
  }
  return weak === null ? { state: "none" } : { state: "weak", signature: weak };
}

function isBackSignatureCandidate(signature: ParsedSignature, subkey: PublicSubkeyPacket, verifier: Verifier): boolean {
  if (signature.layout.signatureType !== enums.signature.keyBinding || !isIssuedBy(signature, subkey)) return false;
  return inWindow(signature, subkey.created, verifier.now) && !isExpired(signature, verifier.now);
}

/**
 * Cryptographic check only. The library's own time checks are made vacuous by evaluating at
 * the signature's creation time, because the time rules above are ours; hash and algorithm
 * refusals are switched off in the inspection config for the same reason. Failures are
 * counted against the key's budget.
 */
async function verifies(signature: ParsedSignature, key: PublicKeyPacket | PublicSubkeyPacket, data: SignedData, verifier: Verifier): Promise<boolean> {
  const spent = verifier.spent ?? { cost: 0 };
  spent.cost += verificationCost(key);
  if (spent.cost > LIMITS.maxVerificationCost) throw new VerificationBudgetExceeded();
  try {
    await signature.packet.verify(key, signature.layout.signatureType, data, createdAt(signature), false, verifier.config);
    return true;
  } catch {
    const failures = verifier.failures ?? { count: 0 };
    failures.count += failureWeight(signature);
    if (failures.count > LIMITS.maxFailedVerifications) throw new TooManyFailedVerifications();
    return false;
  }
}

const ECDSA = 19;

/**
 * What one check by `key` costs, in units of about 0.4 ms (openpgp.js on the machines here:
 * Ed25519 0.4 ms, P-256 0.5, P-384 1.6, P-521 2.8, RSA up to 4096 bits under 0.5; RSA cost
 * grows with the square of the modulus).
 */
export function verificationCost(key: PublicKeyPacket | PublicSubkeyPacket): number {
  const { bits, curve } = key.getAlgorithmInfo();
  if (key.algorithm === ECDSA) return curve === "nistP521" ? 7 : curve === "nistP384" ? 4 : 1;
  if (bits !== undefined && bits > 4096) return bits > 8192 ? 12 : 4;
  return 1;
}

/**
 * openpgp.js checks a failed ECDSA signature whose digest starts with a zero byte a second time,
 * in plain JavaScript (a workaround for an old bug of its own); for P-521 that costs about five
 * ordinary checks (measured 22 ms against 3.5 ms), so it counts as four failures. The digest's
 * first byte is the signature's stored hash prefix, or the check would not have got that far.
 */
function failureWeight(signature: ParsedSignature): number {
  return signature.layout.publicKeyAlgorithm === ECDSA && signature.layout.trailer[0] === 0 ? 4 : 1;
}

export function createdAt(signature: ParsedSignature): Date {
  return signature.packet.created ?? new Date(Number.NaN);
}

function inWindow(signature: ParsedSignature, notBefore: Date, now: Date): boolean {
  const created = createdAt(signature);
  return created >= notBefore && created <= now;
}

export function isExpired(signature: ParsedSignature, now: Date): boolean {
  const seconds = signature.packet.signatureExpirationTime;
  if (signature.packet.signatureNeverExpires || seconds === null || seconds === 0) return false;
  return now.getTime() >= createdAt(signature).getTime() + seconds * 1000;
}

/** Key flags from a self-signature (RFC 9580 §5.2.3.29), or null when the subpacket is absent. */
export function keyFlags(signature: ParsedSignature): number | null {
  const flags = signature.packet.keyFlags;
  if (flags === null) return null;
  return flags[0] ?? 0;
}

export const KEY_FLAG = Object.freeze({ certify: 0x01, sign: 0x02, encryptCommunications: 0x04, encryptStorage: 0x08, authenticate: 0x20 });
