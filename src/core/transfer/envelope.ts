/**
 * Signing and opening transfer files. A file counts only when its detached signature is a
 * v4 binary-document signature with a strong hash, made by the expected key's primary key
 * (named by its fingerprint in the hashed area), and verifies over the payload's exact bytes.
 */
import { createHash } from "node:crypto";
import { createMessage, enums, LiteralDataPacket, sign, type Config, type PrivateKey, type PublicKey } from "openpgp";
import { inspectionConfig } from "../openpgp-config.ts";
import { dearmor, splitArmor } from "../key-policy/armor.ts";
import { isWeakHash } from "../key-policy/binding.ts";
import { formatFingerprint } from "../key-policy/fingerprint.ts";
import { hashName } from "../key-policy/messages.ts";
import { scanPackets, TAG, toHex } from "../key-policy/packets.ts";
import { parseSignature, type ParsedSignature } from "../key-policy/structure.ts";
import { findSubpackets, SUBPACKET } from "../key-policy/subpackets.ts";
import { FORMAT_VERSION, parseEnvelope, type TransferKind } from "./formats.ts";
import { TransferError } from "./transfer-error.ts";

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Writes the file: the payload's bytes, base64, beside the armored detached signature of them. */
export function sealEnvelope(kind: TransferKind, payload: Uint8Array, armoredSignature: string): Uint8Array {
  const envelope = { keysign: kind, version: FORMAT_VERSION, payload: Buffer.from(payload).toString("base64"), signature: armoredSignature };
  return new TextEncoder().encode(`${JSON.stringify(envelope, null, 1)}\n`);
}

/** A detached signature by the primary key of `key`, SHA-256, at `date`. */
export async function signDetached(payload: Uint8Array, key: PrivateKey, date: Date): Promise<string> {
  const config: Config = { ...inspectionConfig({ minRsaBits: 2048 }), preferredHashAlgorithm: enums.hash.sha256 };
  const primaryOnly = await key.getSigningKey(key.getKeyID(), date, undefined, config).catch(() => null);
  if (primaryOnly === null) throw new TransferError("KEYSIGN_ERR_SIGNING_KEY", `Key ${formatFingerprint(key.getFingerprint())} cannot sign with its primary key.`, 500);
  return sign({
    message: await createMessage({ binary: payload }),
    signingKeys: key,
    signingKeyIDs: key.getKeyID(),
    detached: true,
    format: "armored",
    date,
    config,
  });
}

export interface OpenedFile {
  kind: TransferKind;
  payload: Uint8Array;
  /** SHA-256 of the whole file, as the portal shows it. */
  sha256: string;
  signedAt: Date;
}

/** Checks the envelope and its signature by `signer`'s primary key; throws a TransferError naming the rule. */
export async function openEnvelope(file: Uint8Array, kind: TransferKind, signer: PublicKey, signerRole: string): Promise<OpenedFile> {
  const envelope = parseEnvelope(file);
  if (envelope.keysign !== kind) {
    throw new TransferError("KEYSIGN_ERR_TRANSFER_KIND", `This is a ${envelope.keysign} file; a ${kind} file is needed here.`);
  }
  const payload = new Uint8Array(Buffer.from(envelope.payload, "base64"));
  const config = inspectionConfig({ minRsaBits: 2048 });
  const signature = await readSignature(envelope.signature, config);
  const expected = signer.getFingerprint().toUpperCase();
  const issuer = issuerFingerprint(signature);
  if (issuer !== expected) {
    throw new TransferError(
      "KEYSIGN_ERR_TRANSFER_SIGNER",
      `The ${kind} is signed by ${issuer ? `key ${formatFingerprint(issuer)}` : "an unnamed key"}, not by the ${signerRole} ${formatFingerprint(expected)}. Only the ${signerRole}'s primary key is accepted.`,
    );
  }
  if (signature.layout.signatureType !== enums.signature.binary) {
    throw new TransferError("KEYSIGN_ERR_TRANSFER_SIGNATURE", `The ${kind}'s signature is not a signature of a binary document.`);
  }
  if (isWeakHash(signature.layout.hashAlgorithm)) {
    throw new TransferError("KEYSIGN_ERR_TRANSFER_SIGNATURE", `The ${kind}'s signature uses ${hashName(signature.layout.hashAlgorithm)}, which is too weak.`);
  }
  const signedAt = signature.packet.created ?? new Date(0);
  const literal = (await createMessage({ binary: payload })).packets.findPacket(enums.packet.literalData);
  try {
    if (!(literal instanceof LiteralDataPacket)) throw new Error("no literal data");
    await signature.packet.verify(signer.keyPacket, enums.signature.binary, literal, signedAt, true, config);
  } catch {
    throw new TransferError("KEYSIGN_ERR_TRANSFER_SIGNATURE", `The ${kind}'s signature does not verify: the file was changed after it was signed, or damaged on the way.`);
  }
  return { kind, payload, sha256: sha256Hex(file), signedAt };
}

async function readSignature(armored: string, config: Config): Promise<ParsedSignature> {
  const bad = (why: string) => new TransferError("KEYSIGN_ERR_TRANSFER_SIGNATURE", `The transfer file's signature is unusable: ${why}.`);
  const split = splitArmor(armored);
  if (!split.ok || split.blocks.length !== 1 || split.blocks[0]?.label !== "SIGNATURE") throw bad("it is not one armored detached signature");
  const binary = await dearmor(split.blocks[0].text, config);
  const scan = binary ? scanPackets(binary) : null;
  if (!scan?.complete || scan.packets.length !== 1 || scan.packets[0]?.tag !== TAG.signature) throw bad("it is not exactly one signature packet");
  const parsed = parseSignature(scan.packets[0].body);
  if (parsed === null) throw bad("it is not a version 4 signature");
  return parsed;
}

/** The issuer named in the hashed area only: unhashed subpackets can be edited by anyone. */
export function issuerFingerprint(signature: ParsedSignature): string | null {
  const named = findSubpackets(signature.layout.hashed, SUBPACKET.issuerFingerprint);
  const [first] = named;
  if (named.length !== 1 || first === undefined || first.body[0] !== 4) return null;
  return toHex(first.body.subarray(1)).toUpperCase();
}

/**
 * The fingerprint a transfer file's signature names as its issuer, before anything is
 * verified: only to choose which of several known keys to verify it with (a master rotation
 * has two). Null when the file or its signature cannot be read; openEnvelope then says why.
 */
export async function envelopeIssuer(file: Uint8Array): Promise<string | null> {
  try {
    return issuerFingerprint(await readSignature(parseEnvelope(file).signature, inspectionConfig({ minRsaBits: 2048 })));
  } catch {
    return null;
  }
}
