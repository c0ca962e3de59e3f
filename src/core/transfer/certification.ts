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
import { scanPackets, TAG, writePacket } from "../key-policy/packets.ts";
import { parseSignature, type ParsedSignature } from "../key-policy/structure.ts";
import { findSubpackets } from "../key-policy/subpackets.ts";
import { issuerFingerprint } from "./envelope.ts";
import type { CertificationParameters, Notation } from "./formats.ts";

export const CERTIFICATION_TYPES: readonly number[] = [0x10, 0x11, 0x12, 0x13];
export const CERTIFICATION_REVOCATION = 0x30;
/** SHA-256, SHA-384, SHA-512, SHA3-256, SHA3-512. */
const STRONG_HASHES: readonly number[] = [8, 9, 10, 12, 14];
const SUB = Object.freeze({ created: 2, expires: 3, exportable: 4, revocable: 7, issuerKeyId: 16, notation: 20, policyUrl: 26, reason: 29, issuerFingerprint: 33 });
/** Critical subpackets a certification may carry; any other critical one makes GnuPG ignore it. */
const KNOWN_CRITICAL: readonly number[] = [SUB.created, SUB.expires, SUB.exportable, SUB.revocable, SUB.reason];

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

export type SignatureCheck = { ok: true; signature: ParsedSignature; packet: Uint8Array } | { ok: false; failure: RuleFailure };

/** Checks a returned certification against what the batch asked for. */
export async function checkCertification(packet: Uint8Array, expected: ExpectedSignature, parameters: CertificationParameters): Promise<SignatureCheck> {
  const read = readOne(packet);
  if ("rule" in read) return { ok: false, failure: read };
  const failure =
    (CERTIFICATION_TYPES.includes(read.layout.signatureType) ? null : fail("type", `it is a signature of type 0x${hex(read.layout.signatureType)}, not a certification (0x10-0x13)`)) ??
    common(read, expected) ??
    parameterFailure(read, parameters) ??
    (await cryptoFailure(read, expected));
  return failure ? { ok: false, failure } : { ok: true, signature: read, packet };
}

/** Checks a returned certification revocation (type 0x30) made no earlier than `after`. */
export async function checkRevocation(packet: Uint8Array, expected: ExpectedSignature, after: Date): Promise<SignatureCheck> {
  const read = readOne(packet);
  if ("rule" in read) return { ok: false, failure: read };
  const created = read.packet.created ?? new Date(Number.NaN);
  const failure =
    (read.layout.signatureType === CERTIFICATION_REVOCATION ? null : fail("type", `it is a signature of type 0x${hex(read.layout.signatureType)}, not a certification revocation (0x30)`)) ??
    common(read, expected) ??
    (created >= after ? null : fail("time", "the revocation is older than the certification it revokes, so GnuPG would ignore it")) ??
    (await cryptoFailure(read, expected));
  return failure ? { ok: false, failure } : { ok: true, signature: read, packet };
}

function readOne(packet: Uint8Array): ParsedSignature | RuleFailure {
  const scan = scanPackets(packet);
  const [first] = scan.complete ? scan.packets : [];
  if (!scan.complete || scan.packets.length !== 1 || first?.tag !== TAG.signature) return fail("packet", "it is not exactly one OpenPGP signature packet");
  return parseSignature(first.body) ?? fail("packet", "it is not a version 4 signature GnuPG 2.2 can check");
}

function common(signature: ParsedSignature, expected: ExpectedSignature): RuleFailure | null {
  const hashed = signature.layout.hashed;
  const master = expected.master.getFingerprint().toUpperCase();
  if (issuerFingerprint(signature) !== master || !isIssuedBy(signature, expected.master.keyPacket as PublicKeyPacket)) {
    return fail("issuer", "it is not issued by the master key's primary key");
  }
  if (!STRONG_HASHES.includes(signature.layout.hashAlgorithm)) {
    return fail("hash", `it uses ${hashName(signature.layout.hashAlgorithm)}; SHA-256 or stronger is required`);
  }
  if (findSubpackets(hashed, SUB.exportable).some((sub) => sub.body[0] === 0)) return fail("exportable", "it is a local (non-exportable) signature");
  if (findSubpackets(hashed, SUB.revocable).some((sub) => sub.body[0] === 0)) return fail("revocable", "it is marked irrevocable");
  const unknownCritical = hashed.find((sub) => sub.critical && !KNOWN_CRITICAL.includes(sub.type));
  if (unknownCritical) return fail("critical", `it carries critical subpacket ${unknownCritical.type}, which GnuPG would not accept`);
  const created = signature.packet.created ?? new Date(Number.NaN);
  if (!(created >= expected.notBefore && created <= expected.notAfter)) {
    return fail("time", `it was made at ${created.toISOString()}, outside the batch window ${expected.notBefore.toISOString()} to ${expected.notAfter.toISOString()}`);
  }
  return null;
}

function parameterFailure(signature: ParsedSignature, parameters: CertificationParameters): RuleFailure | null {
  const expiry = signature.packet.signatureExpirationTime;
  if (expiry !== parameters.validityDays * 86_400) {
    return fail("expiry", `it expires after ${expiry ?? 0} seconds; the batch asked for ${parameters.validityDays} days`);
  }
  if ((signature.packet.policyURI ?? "") !== parameters.policyUrl) return fail("policy", "its policy URL is not the batch's");
  const found = notationsOf(signature);
  const wanted = parameters.notations.map(notationKey).sort();
  if (found.length !== wanted.length || found.some((value, index) => value !== wanted[index])) {
    return fail("notations", "its notations do not match the batch's (request, agreement and batch number)");
  }
  return null;
}

function notationsOf(signature: ParsedSignature): string[] {
  return signature.packet.rawNotations.map(({ name, value }) => notationKey({ name, value: new TextDecoder().decode(value) })).sort();
}

function notationKey(notation: Notation): string {
  return `${notation.name}=${notation.value}`;
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
