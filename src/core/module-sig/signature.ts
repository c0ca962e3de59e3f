/**
 * Reading a module.sig: a clear-signed text, bounded and accepted by allowlist (one signed
 * message, exactly one v4 text signature, SHA-256/384/512, SHA-1 only from FreePBX's own
 * signing keys), its signer found from the signature itself (issuer fingerprint or key ID,
 * possibly a subkey; never `signedwith`), and the signature verified over the text. The INI is
 * read only from the text that was verified. Pure: bytes and keys in, findings out.
 */
import { createMessage, enums, LiteralDataPacket, readCleartextMessage, type PublicKey, type SignaturePacket, type Subkey } from "openpgp";
import { dearmor, splitArmor } from "../key-policy/armor.ts";
import { hashName } from "../key-policy/messages.ts";
import { scanPackets, TAG } from "../key-policy/packets.ts";
import { parseSignature, type ParsedSignature } from "../key-policy/structure.ts";
import { issuerFingerprint } from "../transfer/envelope.ts";
import { moduleConfig, primaryStanding, subkeyStanding, verifies, type PrimaryStanding } from "./keyring.ts";

export const MAX_MODULE_SIG_BYTES = 2 * 1024 * 1024;

/** The keys that sign FreePBX's own modules (the mirror keys): the only signers whose SHA-1 signatures are accepted. */
export const FREEPBX_SIGNING_KEYS: readonly string[] = [
  "456D051E9204C27C37D4811BB53D215A755231A3",
  "1013D73FECAC918A0A25823986CE877469D2EAD9",
  "072410D159E9DA63A459AB203DDB2122FE6D84F7",
];

const STRONG_HASHES: ReadonlySet<number> = new Set([enums.hash.sha256, enums.hash.sha384, enums.hash.sha512]);

export type ClearSigned = { ok: true; text: string; signature: ParsedSignature } | { ok: false; reason: string };

/** The signed text and its one signature, or why the file is not a module.sig Keysign reads. */
export async function readClearSigned(bytes: Uint8Array): Promise<ClearSigned> {
  const refuse = (reason: string): ClearSigned => ({ ok: false, reason });
  if (bytes.length > MAX_MODULE_SIG_BYTES) return refuse(`module.sig is ${bytes.length} bytes, more than the ${MAX_MODULE_SIG_BYTES} a module.sig may have`);
  const armored = new TextDecoder().decode(bytes);
  const lines = armored.split(/\r?\n/);
  const starts = lines.filter((line) => line === "-----BEGIN PGP SIGNED MESSAGE-----").length;
  const signatures = lines.filter((line) => line === "-----BEGIN PGP SIGNATURE-----").length;
  if (lines.find((line) => line.trim() !== "") !== "-----BEGIN PGP SIGNED MESSAGE-----" || starts !== 1 || signatures !== 1) {
    return refuse("module.sig is not one clear-signed message (it must start with -----BEGIN PGP SIGNED MESSAGE----- and hold one signature block)");
  }
  const block = armored.slice(armored.indexOf("-----BEGIN PGP SIGNATURE-----"));
  const split = splitArmor(block);
  if (!split.ok || split.blocks.length !== 1 || split.blocks[0]?.label !== "SIGNATURE") return refuse("the signature block of module.sig is damaged or followed by other text");
  const binary = await dearmor(split.blocks[0].text, moduleConfig());
  const scan = binary ? scanPackets(binary) : null;
  if (!scan?.complete || scan.packets.length !== 1 || scan.packets[0]?.tag !== TAG.signature) return refuse("the signature block of module.sig must hold exactly one signature packet");
  const signature = parseSignature(scan.packets[0].body);
  if (signature === null) return refuse("the signature in module.sig is not a version 4 OpenPGP signature");
  if (signature.layout.signatureType !== enums.signature.text) return refuse("the signature in module.sig is not a clear-text signature");
  const message = await readCleartextMessage({ cleartextMessage: armored, config: moduleConfig() }).catch(() => null);
  if (message === null) return refuse("module.sig's clear-signed text cannot be read");
  return { ok: true, text: message.getText(), signature };
}

export interface SigningKey {
  key: PublicKey;
  /** The subkey that made the signature, or null when the primary key did. */
  subkey: Subkey | null;
}

/** The signature's issuer as a fingerprint when the hashed area names one, else its key ID (16 hex digits). */
export function issuerOf(signature: ParsedSignature): string {
  return issuerFingerprint(signature) ?? signature.packet.issuerKeyID.toHex().toUpperCase();
}

/** The keys (primary or subkey) the signature names as its issuer; a key ID may match more than one. */
export function candidateSigners(signature: ParsedSignature, keys: readonly PublicKey[]): SigningKey[] {
  const fingerprint = issuerFingerprint(signature)?.toLowerCase() ?? null;
  const keyId = signature.packet.issuerKeyID;
  const matches = (packet: { getKeyID(): { equals(other: typeof keyId): boolean }; getFingerprint(): string }) =>
    packet.getKeyID().equals(keyId) && (fingerprint === null || packet.getFingerprint() === fingerprint);
  const found: SigningKey[] = [];
  for (const key of keys) {
    if (matches(key.keyPacket)) found.push({ key, subkey: null });
    for (const subkey of key.subkeys) if (matches(subkey.keyPacket)) found.push({ key, subkey });
  }
  return found;
}

export type HashCheck = { ok: true } | { ok: false; reason: string };

/** SHA-256/384/512 from anyone; SHA-1 only from FreePBX's own keys, refused from others with the reason. */
export function checkHash(signature: ParsedSignature, signer: string, sha1Signers: readonly string[]): HashCheck {
  const hash = signature.layout.hashAlgorithm;
  if (STRONG_HASHES.has(hash)) return { ok: true };
  if (hash === enums.hash.sha1 && sha1Signers.includes(signer)) return { ok: true };
  if (hash === enums.hash.sha1) {
    return {
      ok: false,
      reason: `module.sig is signed with SHA-1, which Keysign accepts only from FreePBX's own signing keys: SHA-1 collisions can be made, so a SHA-1 signature can be moved onto other content. Re-sign the module with "keysign module sign" (SHA-256)`,
    };
  }
  return { ok: false, reason: `module.sig is signed with ${hashName(hash)}, which is not SHA-256, SHA-384 or SHA-512; re-sign it with "keysign module sign"` };
}

/** The cryptographic check of the signature over the verified text. */
export async function signatureVerifies(signature: SignaturePacket, signer: SigningKey, text: string): Promise<boolean> {
  const literal = (await createMessage({ text })).packets.findPacket(enums.packet.literalData);
  if (!(literal instanceof LiteralDataPacket)) return false;
  const packet = signer.subkey?.keyPacket ?? signer.key.keyPacket;
  return verifies(signature, packet, enums.signature.text, literal);
}

export interface KeyValidity {
  primary: PrimaryStanding;
  /** The signing key (subkey or primary) is expired, or the primary is. */
  expired: boolean;
  /** When the signing key or the primary was revoked by its owner. */
  revoked: { at: Date; reason: string } | null;
  /** Why a subkey cannot be used for signing (unbound, no sign flag, no back-signature), or null. */
  unusable: string | null;
}

/** The signing key's own standing at `now`: revoked, expired or unusable as GnuPG would find it. */
export async function keyValidity(signer: SigningKey, now: Date): Promise<KeyValidity> {
  const primary = await primaryStanding(signer.key, now);
  if (signer.subkey === null) return { primary, expired: primary.expired, revoked: primary.revoked, unusable: primary.validUsers.length === 0 ? "the key has no valid user ID" : null };
  const sub = await subkeyStanding(signer.key, signer.subkey, now);
  const unusable = !sub.bound ? "the subkey that signed is not bound to its primary key" : !sub.canSign ? "the subkey that signed is not bound as a signing subkey (sign flag and back-signature)" : null;
  return { primary, expired: primary.expired || sub.expired, revoked: primary.revoked ?? sub.revoked, unusable };
}
