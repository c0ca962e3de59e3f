/**
 * Certifications made by the master key, and the rules a returned one must keep.
 *
 * openpgp.js's `signAllUsers()` certifies unbound user IDs and uses library defaults, so the
 * software signer builds each signature packet field by field. The portal never trusts a
 * returned signature for what it claims: every rule below is checked on the raw packet.
 */
import { enums, SignaturePacket, type Config, type PrivateKey, type PublicKey, type PublicKeyPacket } from "openpgp";
import { inspectionConfig } from "../openpgp-config.ts";
import { isIssuedBy } from "../key-policy/binding.ts";
import { hashName } from "../key-policy/messages.ts";
import { concatBytes, equalBytes, scanPackets, TAG, toHex, writePacket } from "../key-policy/packets.ts";
import { parseSignature, type ParsedSignature } from "../key-policy/structure.ts";
import { findSubpackets, readSignatureLayout } from "../key-policy/subpackets.ts";
import { issuerFingerprint } from "./envelope.ts";
import type { CertificationParameters, Notation } from "./formats.ts";
import { allowlistViolation, CERTIFICATION_HASHED, rawTime, REVOCATION_HASHED, storedSignatureBody, SUBPACKET_TYPE, UNHASHED, unhashedIssuersName } from "./subpacket-allowlist.ts";

/** Certification types a master certification found in a key may have (revoke items name earlier ones). */
export const CERTIFICATION_TYPES: readonly number[] = [0x10, 0x11, 0x12, 0x13];
/**
 * The one type a returned certification may have: both backends make a generic certification
 * (GnuPG with --default-cert-level 0), and GnuPG's default --min-cert-level 2 ignores 0x11.
 */
export const GENERIC_CERTIFICATION = 0x10;
export const CERTIFICATION_REVOCATION = 0x30;
/** SHA-256, SHA-384, SHA-512: what GnuPG 2.2 can check (it cannot check SHA-3). */
const STRONG_HASHES: readonly number[] = [8, 9, 10];

export interface CertificationTarget {
  key: PublicKeyPacket;
  userId: Uint8Array;
}

export function userIdBytes(userId: string): Uint8Array {
  return new TextEncoder().encode(userId);
}

/** The positive certification the software signer makes: exactly the batch's parameters. */
export async function makeCertification(master: PrivateKey, target: CertificationTarget, parameters: CertificationParameters, date: Date): Promise<Uint8Array> {
  const signature = baseSignature(master, enums.signature.certGeneric, date);
  signature.signatureExpirationTime = parameters.validityDays * 86_400;
  // An empty policy URL means none: no policy subpacket at all.
  signature.policyURI = parameters.policyUrl || null;
  signature.rawNotations = parameters.notations.map(({ name, value }) => ({ name, value: userIdBytes(value), humanReadable: true, critical: false }));
  return signWith(signature, master, target, date);
}

/** A certification revocation (type 0x30) of the master's certification of this user ID. */
export async function makeRevocation(master: PrivateKey, target: CertificationTarget, reason: string, date: Date): Promise<Uint8Array> {
  const signature = baseSignature(master, enums.signature.certRevocation, date);
  signature.reasonForRevocationFlag = enums.reasonForRevocation.noReason;
  signature.reasonForRevocationString = reason;
  return signWith(signature, master, target, date);
}

function baseSignature(master: PrivateKey, type: enums.signature, date: Date): SignaturePacket {
  const signature = new SignaturePacket();
  signature.signatureType = type;
  signature.publicKeyAlgorithm = master.keyPacket.algorithm;
  signature.hashAlgorithm = enums.hash.sha256;
  signature.issuerKeyVersion = 4;
  signature.issuerFingerprint = master.keyPacket.getFingerprintBytes();
  signature.issuerKeyID = master.getKeyID();
  signature.created = date;
  return signature;
}

async function signWith(signature: SignaturePacket, master: PrivateKey, target: CertificationTarget, date: Date): Promise<Uint8Array> {
  const data = { key: target.key, userID: { write: () => target.userId } };
  // openpgp.js's typings say Uint8Array; at run time certifications take { key, userID }.
  // No salt notation: the batch fixes the notations exactly, and the portal checks them exactly.
  const config: Config = { ...inspectionConfig({ minRsaBits: 2048 }), nonDeterministicSignaturesViaNotation: false };
  const sign = signature.sign.bind(signature) as (key: unknown, data: unknown, date: Date, detached: boolean, config: Config) => Promise<void>;
  await sign(master.keyPacket, data, date, false, config);
  return writePacket(TAG.signature, signature.write());
}

/** One broken rule, named so a report can say which check failed. */
export interface RuleFailure {
  rule: string;
  message: string;
}

export interface ExpectedSignature {
  master: PublicKey;
  target: CertificationTarget;
  /** Signatures must be created inside this window (the batch's creation and expiry). */
  notBefore: Date;
  notAfter: Date;
  config: Config;
}

/** `packet` is the copy to store: the signed bytes as made, with only the issuer in the unhashed area. */
export type SignatureCheck = { ok: true; signature: ParsedSignature; packet: Uint8Array } | { ok: false; failure: RuleFailure };

/** What a revocation must say, and the earliest second it may be made in. */
export interface ExpectedRevocation {
  /** A sealed revocation: the second after its certification; a batch revocation: the batch's creation. */
  notBefore: Date;
  /** The exact reason text, with reason code 0 (RFC 4880 allows only 0 or 32 for a certification revocation). */
  reason: string;
}

/** Checks a returned certification against what the batch asked for. */
export async function checkCertification(packet: Uint8Array, expected: ExpectedSignature, parameters: CertificationParameters): Promise<SignatureCheck> {
  const read = readOne(packet, CERTIFICATION_HASHED);
  if ("rule" in read) return { ok: false, failure: read };
  const failure =
    (read.layout.signatureType === GENERIC_CERTIFICATION ? null : fail("type", `it is a signature of type 0x${hex(read.layout.signatureType)}, not a generic certification (0x10)`)) ??
    common(read, expected) ??
    parameterFailure(read, parameters) ??
    (await cryptoFailure(read, expected));
  return failure ? { ok: false, failure } : accepted(read, expected);
}

/** Checks a returned certification revocation (type 0x30). */
export async function checkRevocation(packet: Uint8Array, expected: ExpectedSignature, revocation: ExpectedRevocation): Promise<SignatureCheck> {
  const read = readOne(packet, REVOCATION_HASHED);
  if ("rule" in read) return { ok: false, failure: read };
  const created = createdAt(read);
  const failure =
    (read.layout.signatureType === CERTIFICATION_REVOCATION ? null : fail("type", `it is a signature of type 0x${hex(read.layout.signatureType)}, not a certification revocation (0x30)`)) ??
    common(read, expected) ??
    (created >= revocation.notBefore
      ? null
      : fail("time", `it is dated ${created.toISOString()}, before ${revocation.notBefore.toISOString()}: a revocation must be at least one second younger than what it revokes, or GnuPG may ignore it`)) ??
    reasonFailure(read, revocation.reason) ??
    (await cryptoFailure(read, expected));
  return failure ? { ok: false, failure } : accepted(read, expected);
}

/** Exactly one v4 signature packet whose subpackets keep the allowlist; parsed only then. */
function readOne(packet: Uint8Array, hashedAllowlist: typeof CERTIFICATION_HASHED): ParsedSignature | RuleFailure {
  const scan = scanPackets(packet);
  const [first] = scan.complete ? scan.packets : [];
  if (!scan.complete || scan.packets.length !== 1 || first?.tag !== TAG.signature) return fail("packet", "it is not exactly one OpenPGP signature packet");
  const layout = readSignatureLayout(first.body);
  if (layout === null) return fail("packet", "it is not a version 4 signature GnuPG 2.2 can check");
  const violation = allowlistViolation(layout.hashed, hashedAllowlist, "hashed") ?? allowlistViolation(layout.unhashed, UNHASHED, "unhashed");
  if (violation !== null) return fail("subpacket", violation);
  return parseSignature(first.body) ?? fail("packet", "it is not a version 4 signature GnuPG 2.2 can check");
}

function accepted(signature: ParsedSignature, expected: ExpectedSignature): SignatureCheck {
  const stored = storedSignatureBody(signature.layout, new Uint8Array(Buffer.from(expected.master.getKeyID().toHex(), "hex")));
  return { ok: true, signature, packet: writePacket(TAG.signature, stored) };
}

function common(signature: ParsedSignature, expected: ExpectedSignature): RuleFailure | null {
  const master = { fingerprint: expected.master.getFingerprint().toUpperCase(), keyId: expected.master.getKeyID().toHex().toUpperCase() };
  if (issuerFingerprint(signature) !== master.fingerprint || !isIssuedBy(signature, expected.master.keyPacket as PublicKeyPacket) || !unhashedIssuersName(signature.layout, master)) {
    return fail("issuer", "it is not issued by the master key's primary key");
  }
  if (!STRONG_HASHES.includes(signature.layout.hashAlgorithm)) {
    return fail("hash", `it uses ${hashName(signature.layout.hashAlgorithm)}; SHA-256 or stronger is required`);
  }
  if (findSubpackets(signature.layout.hashed, SUBPACKET_TYPE.created).length !== 1) return fail("time", "it does not say when it was made");
  const created = createdAt(signature);
  if (!(created >= expected.notBefore && created <= expected.notAfter)) {
    return fail("time", `it was made at ${created.toISOString()}, outside the batch window ${expected.notBefore.toISOString()} to ${expected.notAfter.toISOString()}`);
  }
  return null;
}

function parameterFailure(signature: ParsedSignature, parameters: CertificationParameters): RuleFailure | null {
  const expiry = rawTime(signature.layout.hashed, SUBPACKET_TYPE.expires);
  if (expiry !== parameters.validityDays * 86_400) {
    return fail("expiry", `it expires after ${expiry ?? 0} seconds; the batch asked for ${parameters.validityDays} days`);
  }
  const policies = findSubpackets(signature.layout.hashed, SUBPACKET_TYPE.policyUri).map((subpacket) => toHex(subpacket.body));
  const policyWanted = parameters.policyUrl ? [toHex(new TextEncoder().encode(parameters.policyUrl))] : [];
  if (policies.join() !== policyWanted.join()) return fail("policy", "its policy URL is not the batch's");
  const found = findSubpackets(signature.layout.hashed, SUBPACKET_TYPE.notation).map((subpacket) => toHex(subpacket.body)).sort();
  const wanted = parameters.notations.map((notation) => toHex(notationBody(notation))).sort();
  if (found.length !== wanted.length || found.some((value, index) => value !== wanted[index])) {
    return fail("notations", "its notations are not exactly the batch's (request, agreement and batch number; human-readable, no other flags or bytes)");
  }
  return null;
}

/** A notation subpacket's body as RFC 4880 §5.2.3.16 lays it out, with only the human-readable flag. */
function notationBody(notation: Notation): Uint8Array {
  const name = new TextEncoder().encode(notation.name);
  const value = new TextEncoder().encode(notation.value);
  const lengths = new Uint8Array([name.length >> 8, name.length & 0xff, value.length >> 8, value.length & 0xff]);
  return concatBytes([new Uint8Array([0x80, 0, 0, 0]), lengths, name, value]);
}

/** The creation time as GnuPG reads it: the raw four bytes, never a parser's reading. */
function createdAt(signature: ParsedSignature): Date {
  const seconds = rawTime(signature.layout.hashed, SUBPACKET_TYPE.created);
  return seconds === null ? new Date(Number.NaN) : new Date(seconds * 1000);
}

function reasonFailure(signature: ParsedSignature, reason: string): RuleFailure | null {
  const [subpacket, ...more] = findSubpackets(signature.layout.hashed, SUBPACKET_TYPE.reason);
  if (subpacket === undefined || more.length > 0) return fail("reason", "it does not say why the certification is revoked");
  if (subpacket.body[0] !== enums.reasonForRevocation.noReason) {
    return fail("reason", `its reason code is ${subpacket.body[0] ?? "missing"}; a certification revocation from this portal uses code 0 and says why in its text`);
  }
  const text = subpacket.body.subarray(1);
  if (!equalBytes(text, new TextEncoder().encode(reason))) return fail("reason", `its reason text is not the one the batch asked for (${JSON.stringify(reason)})`);
  return null;
}

async function cryptoFailure(signature: ParsedSignature, expected: ExpectedSignature): Promise<RuleFailure | null> {
  const data = { key: expected.target.key, userID: { write: () => expected.target.userId } };
  try {
    await signature.packet.verify(expected.master.keyPacket, signature.layout.signatureType, data, signature.packet.created ?? undefined, false, expected.config);
    return null;
  } catch {
    return fail("target", "it does not verify over the approved key and user ID (another key, another user ID, or altered bytes)");
  }
}

function fail(rule: string, message: string): RuleFailure {
  return { rule, message };
}

function hex(value: number): string {
  return value.toString(16).padStart(2, "0");
}
