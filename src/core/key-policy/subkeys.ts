/**
 * Decides which subkeys stay. A subkey is kept only if it is readable, uses an accepted
 * algorithm, is not revoked, has an unexpired newest binding signature (0x18 by the primary),
 * is not expired, declares a usage that fits its algorithm and, if it may sign, carries a
 * valid back-signature (0x19 by the subkey). Anything else is stripped with a warning, except a
 * weak hash on a kept subkey's binding or back-signature, which refuses the key (hash rule).
 */
import { enums, type PublicSubkeyPacket } from "openpgp";
import { canEncryptWith, canSignWith, readKeyAlgorithm, type KeyAlgorithm } from "./algorithms.ts";
import { findBackSignature, hasRevocation, isWeakHash, KEY_FLAG, keyFlags, selectNewest, type BackSignature, type Verifier } from "./binding.ts";
import { hashName, messages } from "./messages.ts";
import type { SubkeyComponent, ParsedSignature } from "./structure.ts";
import { LIMITS, type Capability, type PolicyProblem, type SubkeyFacts } from "./types.ts";

export interface KeptSubkey {
  raw: Uint8Array;
  packet: PublicSubkeyPacket;
  binding: ParsedSignature;
  backSignature: BackSignature | null;
  facts: SubkeyFacts;
}

export type SubkeyVerdict =
  | { kind: "kept"; subkey: KeptSubkey }
  | { kind: "removed"; fingerprint: string; reason: string }
  /** A binding or back-signature on the trust path uses a weak hash: the whole key is refused. */
  | { kind: "weak"; problem: PolicyProblem };

export async function judgeSubkey(component: SubkeyComponent, verifier: Verifier, minRsaBits: number): Promise<SubkeyVerdict> {
  const packet = component.packet;
  if (packet === null) return { kind: "removed", fingerprint: "(unreadable)", reason: "it could not be read (unsupported algorithm or damaged packet)" };
  const fingerprint = packet.getFingerprint().toUpperCase();
  const removed = (reason: string): SubkeyVerdict => ({ kind: "removed", fingerprint, reason });
  const algorithm = readKeyAlgorithm(component.raw);
  if (!isAcceptedSubkeyAlgorithm(algorithm, minRsaBits)) return removed(`it uses ${algorithm.label}, which is not accepted`);
  const data = { key: verifier.primary, bind: packet };
  if (await hasRevocation(component.signatures, enums.signature.subkeyRevocation, data, verifier)) return removed("it has been revoked");
  const notBefore = packet.created > verifier.primary.created ? packet.created : verifier.primary.created;
  const selection = await selectNewest(component.signatures, [enums.signature.subkeyBinding], data, verifier, notBefore);
  if (selection.state === "expired" || selection.state === "none") {
    return removed(selection.state === "expired" ? "its binding signature has expired" : "it has no valid binding signature from the primary key");
  }
  if (selection.state === "weak" || isWeakHash(selection.signature.layout.hashAlgorithm)) return weak(selection.signature, "binding signature", fingerprint);
  return judgeBinding({ raw: component.raw, packet, algorithm, binding: selection.signature }, verifier, removed);
}

interface BoundSubkey {
  raw: Uint8Array;
  packet: PublicSubkeyPacket;
  algorithm: KeyAlgorithm;
  binding: ParsedSignature;
}

async function judgeBinding(bound: BoundSubkey, verifier: Verifier, removed: (reason: string) => SubkeyVerdict): Promise<SubkeyVerdict> {
  const { packet, algorithm, binding } = bound;
  const expiresAt = expiryOf(packet.created, binding);
  if (expiresAt !== null && expiresAt <= verifier.now) return removed(`it expired on ${expiresAt.toISOString()}`);
  const capabilities = capabilitiesOf(keyFlags(binding) ?? 0);
  if (capabilities.length === 0) return removed("its binding signature declares no usage (key flags)");
  if (!fitsAlgorithm(capabilities, algorithm)) return removed(`its declared usage does not fit its algorithm (${algorithm.label})`);
  let backSignature: BackSignature | null = null;
  if (capabilities.includes("sign")) {
    const search = await findBackSignature(binding, packet, verifier);
    const fingerprint = packet.getFingerprint().toUpperCase();
    if (search.state === "weak") return weak(search.signature, "back-signature", fingerprint);
    if (search.state === "none") return removed("it is marked for signing but has no valid back-signature (primary key binding signature)");
    if (isWeakHash(search.back.signature.layout.hashAlgorithm)) return weak(search.back.signature, "back-signature", fingerprint);
    backSignature = search.back;
  }
  const facts: SubkeyFacts = { fingerprint: packet.getFingerprint().toUpperCase(), algorithm: algorithm.label, capabilities, createdAt: packet.created, expiresAt };
  return { kind: "kept", subkey: { raw: bound.raw, packet, binding, backSignature, facts } };
}

function weak(signature: ParsedSignature, what: string, fingerprint: string): SubkeyVerdict {
  return { kind: "weak", problem: messages.weakHash(hashName(signature.layout.hashAlgorithm), `${what} of subkey ${fingerprint}`) };
}

function isAcceptedSubkeyAlgorithm(algorithm: KeyAlgorithm, minRsaBits: number): boolean {
  if (algorithm.accepted === "rsa") return algorithm.bits >= minRsaBits && algorithm.bits <= LIMITS.maxRsaBits;
  return algorithm.accepted !== null;
}

/** Key expiration time is counted from the creation of the key it describes; 0 means never. */
export function expiryOf(keyCreated: Date, signature: ParsedSignature): Date | null {
  const seconds = signature.packet.keyExpirationTime;
  if (seconds === null || seconds === 0) return null;
  return new Date(keyCreated.getTime() + seconds * 1000);
}

export function capabilitiesOf(flags: number): Capability[] {
  const capabilities: Capability[] = [];
  if (flags & KEY_FLAG.sign) capabilities.push("sign");
  if (flags & (KEY_FLAG.encryptCommunications | KEY_FLAG.encryptStorage)) capabilities.push("encrypt");
  if (flags & KEY_FLAG.authenticate) capabilities.push("authenticate");
  return capabilities;
}

function fitsAlgorithm(capabilities: readonly Capability[], algorithm: KeyAlgorithm): boolean {
  const needsSigning = capabilities.includes("sign") || capabilities.includes("authenticate");
  if (needsSigning && !canSignWith(algorithm)) return false;
  return !capabilities.includes("encrypt") || canEncryptWith(algorithm);
}
