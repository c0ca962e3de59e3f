/**
 * Proof of possession: a detached signature over the uploaded document, made by the key's
 * primary or by one of its kept signing subkeys. The key is evaluated again at `options.now`
 * first, so only what the policy keeps (bound, back-signed, unexpired subkeys) can sign.
 * Inline and clear-signed messages are refused (SECURITY.md: detached signatures only).
 */
import { createMessage, enums, LiteralDataPacket, type Config, type PublicKeyPacket, type PublicSubkeyPacket } from "openpgp";
import { inspectionConfig } from "../openpgp-config.ts";
import { dearmor, looksArmored, splitArmor } from "./armor.ts";
import { createdAt, isExpired, isWeakHash } from "./binding.ts";
import type { Evaluation } from "./evaluate.ts";
import { formatFingerprint } from "./fingerprint.ts";
import { evaluateUpload } from "./inspect.ts";
import { hashName, messages } from "./messages.ts";
import { scanPackets, TAG, toHex } from "./packets.ts";
import { parseSignature, type ParsedSignature } from "./structure.ts";
import { LIMITS, type KeyPolicyOptions, type PolicyProblem, type PossessionResult } from "./types.ts";

interface Signer {
  packet: PublicKeyPacket | PublicSubkeyPacket;
  fingerprint: string;
  canSign: boolean;
}

const fail = (problem: PolicyProblem): PossessionResult => ({ ok: false, problem });
const INLINE_TAGS: ReadonlySet<number> = new Set([TAG.onePassSignature, TAG.literalData, TAG.compressedData]);

export async function verifyPossession(keyBinary: Uint8Array, data: Uint8Array, signature: Uint8Array, options: KeyPolicyOptions): Promise<PossessionResult> {
  const evaluated = await evaluateUpload(keyBinary, options);
  if (!evaluated.ok) return fail(evaluated.problems[0] ?? messages.malformed("no details"));
  const config = inspectionConfig({ minRsaBits: options.minRsaBits });
  const parsed = await readDetachedSignature(signature, config);
  if ("code" in parsed) return fail(parsed);
  if (parsed.layout.signatureType !== enums.signature.binary) return fail(messages.signatureType());
  if (isWeakHash(parsed.layout.hashAlgorithm)) return fail(messages.signatureWeakHash(hashName(parsed.layout.hashAlgorithm)));
  const signer = findSigner(evaluated.evaluation, parsed);
  if (signer === null) return fail(messages.signatureWrongKey(describeIssuer(parsed)));
  if (!signer.canSign) return fail(messages.signatureByNonSigningSubkey(formatFingerprint(signer.fingerprint)));
  const timeProblem = checkTime(parsed, signer, options.now);
  if (timeProblem) return fail(timeProblem);
  if (!(await verifiesOver(parsed, signer, data, config))) return fail(messages.signatureInvalid());
  return { ok: true, signerFingerprint: signer.fingerprint };
}

async function readDetachedSignature(bytes: Uint8Array, config: Config): Promise<ParsedSignature | PolicyProblem> {
  if (bytes.length > LIMITS.maxSignatureBytes) return messages.signatureMalformed(`it is ${bytes.length} bytes, far more than a signature`);
  if (bytes.every((byte) => byte <= 0x20)) return messages.signatureMalformed("the upload is empty");
  if (Buffer.from(bytes).includes("BEGIN PGP PRIVATE KEY BLOCK")) return messages.secret();
  const binary = looksArmored(bytes) ? await dearmorSignature(bytes, config) : bytes;
  if (!(binary instanceof Uint8Array)) return binary;
  const scan = scanPackets(binary);
  if (!scan.complete || scan.packets.length === 0) return messages.signatureMalformed("it could not be read as OpenPGP data");
  if (scan.packets.some((packet) => packet.tag === TAG.secretKey || packet.tag === TAG.secretSubkey)) return messages.secret();
  if (scan.packets.some((packet) => INLINE_TAGS.has(packet.tag))) return messages.signatureNotDetached("a signed message with the document inside");
  const [first, ...rest] = scan.packets;
  if (first?.tag !== TAG.signature) return messages.signatureMalformed("it is not a signature");
  if (rest.length > 0) return messages.signatureMalformed("it holds more than one packet; upload a single signature");
  return parseSignature(first.body) ?? messages.signatureMalformed("it is not a version 4 signature GnuPG 2.2 could check");
}

async function dearmorSignature(bytes: Uint8Array, config: Config): Promise<Uint8Array | PolicyProblem> {
  const split = splitArmor(Buffer.from(bytes).toString("utf8"));
  if (!split.ok && split.reason === "clear-signed") return messages.signatureNotDetached("a clear-signed message");
  if (!split.ok) return messages.signatureMalformed("the armored text is damaged or has text around it");
  const [block, ...others] = split.blocks;
  if (block === undefined || others.length > 0) return messages.signatureMalformed("upload exactly one armored signature block");
  if (block.label === "MESSAGE") return messages.signatureNotDetached("a signed message (-----BEGIN PGP MESSAGE-----)");
  if (block.label !== "SIGNATURE") return messages.signatureMalformed(`it is an armored "PGP ${block.label}", not a signature`);
  return (await dearmor(block.text, config)) ?? messages.signatureMalformed("the armored signature is damaged");
}

/** Matches on the issuer fingerprint when the signature has one, else on the 64-bit key ID. */
function findSigner(evaluation: Evaluation, signature: ParsedSignature): Signer | null {
  const signers: Signer[] = [
    { packet: evaluation.primary, fingerprint: evaluation.primary.getFingerprint().toUpperCase(), canSign: true },
    ...evaluation.subkeys.map((subkey) => ({
      packet: subkey.packet,
      fingerprint: subkey.facts.fingerprint,
      canSign: subkey.facts.capabilities.includes("sign"),
    })),
  ];
  const issuerFingerprint = signature.packet.issuerFingerprint;
  if (issuerFingerprint !== null) return signers.find((signer) => signer.fingerprint === toHex(issuerFingerprint).toUpperCase()) ?? null;
  return signers.find((signer) => signature.packet.issuerKeyID.equals(signer.packet.getKeyID())) ?? null;
}

function describeIssuer(signature: ParsedSignature): string {
  const issuerFingerprint = signature.packet.issuerFingerprint;
  if (issuerFingerprint !== null) return `key ${formatFingerprint(toHex(issuerFingerprint))}`;
  const keyId = signature.packet.issuerKeyID.toHex();
  return /^0*$/.test(keyId) ? "an unnamed key" : `key ID ${keyId.toUpperCase()}`;
}

function checkTime(signature: ParsedSignature, signer: Signer, now: Date): PolicyProblem | null {
  const created = createdAt(signature);
  if (!(created <= now)) return messages.signatureTime(`it claims to be made at ${created.toISOString()}, which is in the future`);
  if (created < signer.packet.created) return messages.signatureTime("it is older than the key that made it");
  if (isExpired(signature, now)) return messages.signatureTime("it has expired");
  return null;
}

/** Cryptographic check at the signature's own time; the time rules are checked above. */
async function verifiesOver(signature: ParsedSignature, signer: Signer, data: Uint8Array, config: Config): Promise<boolean> {
  const message = await createMessage({ binary: data });
  const literal = message.packets.findPacket(enums.packet.literalData);
  if (!(literal instanceof LiteralDataPacket)) return false;
  try {
    await signature.packet.verify(signer.packet, enums.signature.binary, literal, createdAt(signature), true, config);
    return true;
  } catch {
    return false;
  }
}
