/**
 * The key material a module check uses (an install's `<ID>.key` files, a keyring file, keys
 * fetched from a portal) and what GnuPG would conclude from it at a given time: which keys are
 * usable, which subkeys are bound, which user IDs carry a master's certification, and which of
 * those a master revoked. openpgp.js only checks the cryptography (each signature is verified
 * at its own creation time); every rule about types, issuers and time is written here.
 *
 * Bounds come first: each blob is at most `MAX_KEY_BLOB_BYTES` and `MAX_KEY_PACKETS` packets,
 * counted on the raw bytes before openpgp.js parses anything.
 */
import { enums, readKey, type Config, type PublicKey, type SignaturePacket, type Subkey, type User } from "openpgp";
import { dearmor, looksArmored, splitArmor } from "../key-policy/armor.ts";
import { concatBytes, scanPackets, TAG, type Packet, writePacket } from "../key-policy/packets.ts";
import { inspectionConfig } from "../openpgp-config.ts";

export const MAX_KEY_BLOB_BYTES = 1024 * 1024;
export const MAX_KEY_PACKETS = 5000;

export function moduleConfig(): Config {
  return inspectionConfig({ minRsaBits: 2048 });
}

export interface KeyBlob {
  /** Where it came from, for messages (a file name or a URL). */
  source: string;
  bytes: Uint8Array;
}

export interface LoadedKeys {
  keys: PublicKey[];
  /** Blobs or keys that could not be used, each with the reason, for the report. */
  problems: string[];
}

/** Every public key in the blobs; secret key material, damaged or oversized blobs are named and skipped. */
export async function loadKeys(blobs: readonly KeyBlob[]): Promise<LoadedKeys> {
  const loaded: LoadedKeys = { keys: [], problems: [] };
  const seen = new Set<string>();
  for (const blob of blobs) {
    const packets = await framedPackets(blob);
    if (typeof packets === "string") {
      loaded.problems.push(`${blob.source}: ${packets}`);
      continue;
    }
    for (const certificate of splitCertificates(packets)) {
      const key = await readKey({ binaryKey: certificate, config: moduleConfig() }).catch(() => null);
      if (key === null) {
        loaded.problems.push(`${blob.source}: a key that cannot be read was skipped`);
        continue;
      }
      const fingerprint = key.getFingerprint().toUpperCase();
      // The same key from two sources (a .key file and the portal): keep every signature of both.
      const known = seen.has(fingerprint) ? loaded.keys.find((other) => other.getFingerprint().toUpperCase() === fingerprint) : undefined;
      if (known) {
        mergeInto(known, key);
        continue;
      }
      seen.add(fingerprint);
      loaded.keys.push(key);
    }
  }
  return loaded;
}

/**
 * Adds `copy`'s signatures, user IDs and subkeys to `known`, without judging any of them (the
 * library's own merge drops signatures by its rules; here every rule is applied later, to all).
 */
function mergeInto(known: PublicKey, copy: PublicKey): void {
  const add = (target: SignaturePacket[], from: readonly SignaturePacket[]) => {
    for (const signature of from) if (!target.some((present) => sameBytes(present.write(), signature.write()))) target.push(signature);
  };
  add(known.revocationSignatures, copy.revocationSignatures);
  for (const user of copy.users) {
    const match = known.users.find((present) => present.userID !== null && user.userID !== null && present.userID.userID === user.userID.userID);
    if (!match) {
      known.users.push(user);
      continue;
    }
    add(match.selfCertifications, user.selfCertifications);
    add(match.otherCertifications, user.otherCertifications);
    add(match.revocationSignatures, user.revocationSignatures);
  }
  for (const subkey of copy.subkeys) {
    const match = known.subkeys.find((present) => present.getFingerprint() === subkey.getFingerprint());
    if (!match) {
      known.subkeys.push(subkey);
      continue;
    }
    add(match.bindingSignatures, subkey.bindingSignatures);
    add(match.revocationSignatures, subkey.revocationSignatures);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}

const SECRET_MATERIAL = "holds secret key material; give public keys only (and keep that file private)";

async function framedPackets(blob: KeyBlob): Promise<Packet[] | string> {
  if (blob.bytes.length > MAX_KEY_BLOB_BYTES) return `larger than ${MAX_KEY_BLOB_BYTES} bytes, so not read`;
  let binary: Uint8Array = blob.bytes;
  if (looksArmored(blob.bytes)) {
    const split = splitArmor(new TextDecoder().decode(blob.bytes));
    if (!split.ok) return "not a readable armored key";
    const parts: Uint8Array[] = [];
    for (const block of split.blocks) {
      if (block.label === "PRIVATE KEY BLOCK") return SECRET_MATERIAL;
      if (block.label !== "PUBLIC KEY BLOCK") return `holds a ${block.label} block, not public keys`;
      const data = await dearmor(block.text, moduleConfig());
      if (data === null) return "an armored block is damaged";
      parts.push(data);
    }
    binary = concatBytes(parts);
  }
  const scan = scanPackets(binary);
  if (!scan.complete) return "damaged OpenPGP data";
  if (scan.packets.length > MAX_KEY_PACKETS) return `more than ${MAX_KEY_PACKETS} packets, so not read`;
  if (scan.packets.some((packet) => packet.tag === TAG.secretKey || packet.tag === TAG.secretSubkey)) {
    return SECRET_MATERIAL;
  }
  return scan.packets;
}

/** Cuts a packet sequence at each primary key, keeping only what belongs in a public key. */
function splitCertificates(packets: readonly Packet[]): Uint8Array[] {
  const certificates: Uint8Array[][] = [];
  const kept = new Set<number>([TAG.publicKey, TAG.userId, TAG.userAttribute, TAG.publicSubkey, TAG.signature]);
  for (const packet of packets) {
    if (packet.tag === TAG.publicKey) certificates.push([]);
    const current = certificates.at(-1);
    if (current && kept.has(packet.tag)) current.push(writePacket(packet.tag, packet.body));
  }
  return certificates.map((parts) => concatBytes(parts));
}

type AnyKeyPacket = Parameters<SignaturePacket["verify"]>[0];
type SignedData = Parameters<SignaturePacket["verify"]>[2];

/** The cryptographic check alone, evaluated at the signature's own creation time (time rules are ours). */
export async function verifies(signature: SignaturePacket, key: AnyKeyPacket, type: number, data: SignedData): Promise<boolean> {
  if (signature.created === null) return false;
  try {
    await signature.verify(key, type, data, signature.created, false, moduleConfig());
    return true;
  } catch {
    return false;
  }
}

function issuedBy(signature: SignaturePacket, key: AnyKeyPacket): boolean {
  if (!signature.issuerKeyID.equals(key.getKeyID())) return false;
  return signature.issuerFingerprint === null || signature.issuerFingerprint === undefined || toHex(signature.issuerFingerprint) === key.getFingerprint();
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

function made(signature: SignaturePacket): number {
  return signature.created?.getTime() ?? Number.NaN;
}

function expiredAt(signature: SignaturePacket, now: Date): boolean {
  const seconds = signature.signatureExpirationTime;
  if (signature.signatureNeverExpires || seconds === null || seconds === 0) return false;
  return now.getTime() >= made(signature) + seconds * 1000;
}

export interface Revocation {
  at: Date;
  reason: string;
}

function revocationOf(signature: SignaturePacket): Revocation {
  return { at: new Date(made(signature)), reason: signature.reasonForRevocationString ?? "" };
}

/** The newest signature of `types` by `issuer` that verifies, made no later than `now`. */
async function newestValid(signatures: readonly SignaturePacket[], types: readonly number[], issuer: AnyKeyPacket, data: SignedData, now: Date): Promise<SignaturePacket | null> {
  const candidates = signatures
    .filter((signature) => types.includes(signature.signatureType ?? -1) && issuedBy(signature, issuer) && made(signature) <= now.getTime())
    .sort((a, b) => made(b) - made(a));
  for (const signature of candidates) {
    if (await verifies(signature, issuer, signature.signatureType ?? -1, data)) return signature;
  }
  return null;
}

async function firstRevocation(signatures: readonly SignaturePacket[], type: number, issuer: AnyKeyPacket, data: SignedData, now: Date, notBefore = -Infinity): Promise<Revocation | null> {
  for (const signature of signatures) {
    if (signature.signatureType !== type || !issuedBy(signature, issuer) || made(signature) > now.getTime() || made(signature) < notBefore) continue;
    if (await verifies(signature, issuer, type, data)) return revocationOf(signature);
  }
  return null;
}

const CERTIFICATIONS = [enums.signature.certGeneric, enums.signature.certPersona, enums.signature.certCasual, enums.signature.certPositive];

export interface PrimaryStanding {
  revoked: Revocation | null;
  /** When the key expires, from its newest self-signature; null when it does not. */
  expires: Date | null;
  expired: boolean;
  /** User IDs with a valid, unrevoked self-signature at `now`. */
  validUsers: User[];
}

/** The primary key as GnuPG sees it at `now`: its own revocation, its expiry, its valid user IDs. */
export async function primaryStanding(key: PublicKey, now: Date): Promise<PrimaryStanding> {
  const primary = key.keyPacket;
  const revoked = await firstRevocation(key.revocationSignatures, enums.signature.keyRevocation, primary, { key: primary }, now);
  const validUsers: User[] = [];
  let newestSelf: SignaturePacket | null = null;
  for (const user of key.users) {
    if (user.userID === null) continue;
    const data = { userID: user.userID, key: primary };
    const self = await newestValid(user.selfCertifications, CERTIFICATIONS, primary, data, now);
    if (self === null || expiredAt(self, now)) continue;
    if (await firstRevocation(user.revocationSignatures, enums.signature.certRevocation, primary, data, now, made(self))) continue;
    validUsers.push(user);
    if (newestSelf === null || made(self) > made(newestSelf)) newestSelf = self;
  }
  const seconds = newestSelf?.keyExpirationTime ?? 0;
  const expires = seconds > 0 && newestSelf !== null ? new Date(primary.created.getTime() + seconds * 1000) : null;
  return { revoked, expires, expired: expires !== null && now >= expires, validUsers };
}

export interface SubkeyStanding {
  bound: boolean;
  canSign: boolean;
  revoked: Revocation | null;
  expires: Date | null;
  expired: boolean;
}

/** A subkey counts for signing when bound by a valid binding with a sign flag and a valid back-signature. */
export async function subkeyStanding(key: PublicKey, subkey: Subkey, now: Date): Promise<SubkeyStanding> {
  const primary = key.keyPacket;
  const data = { key: primary, bind: subkey.keyPacket };
  const binding = await newestValid(subkey.bindingSignatures, [enums.signature.subkeyBinding], primary, data, now);
  const revoked = await firstRevocation(subkey.revocationSignatures, enums.signature.subkeyRevocation, primary, data, now);
  if (binding === null || expiredAt(binding, now)) return { bound: false, canSign: false, revoked, expires: null, expired: false };
  const flags = binding.keyFlags?.[0] ?? 0;
  const back = binding.embeddedSignature;
  const backed = back !== null && back.signatureType === enums.signature.keyBinding && (await verifies(back, subkey.keyPacket, enums.signature.keyBinding, data));
  const seconds = binding.keyExpirationTime ?? 0;
  const expires = seconds > 0 ? new Date(subkey.keyPacket.created.getTime() + seconds * 1000) : null;
  return { bound: true, canSign: (flags & 0x02) !== 0 && backed, revoked, expires, expired: expires !== null && now >= expires };
}

export interface MasterCertification {
  master: PublicKey;
  userId: string;
  at: Date;
  /** Trust signature depth and amount, when the master made one (the mirror key's is 1 and 60). */
  trust: { depth: number; amount: number } | null;
  /** The master's revocation of it, when one was made at or after it. */
  revoked: Revocation | null;
  expired: boolean;
}

/** Every certification of `key`'s valid user IDs by one of `masters` that verifies, newest per user ID and master. */
export async function masterCertifications(key: PublicKey, standing: PrimaryStanding, masters: readonly PublicKey[], now: Date): Promise<MasterCertification[]> {
  const found: MasterCertification[] = [];
  for (const user of standing.validUsers) {
    if (user.userID === null) continue;
    const data = { userID: user.userID, key: key.keyPacket };
    for (const master of masters) {
      const certification = await newestValid(user.otherCertifications, CERTIFICATIONS, master.keyPacket, data, now);
      if (certification === null) continue;
      const revoked = await firstRevocation(user.revocationSignatures, enums.signature.certRevocation, master.keyPacket, data, now, made(certification));
      const trust = certification.trustLevel !== null && certification.trustLevel > 0 ? { depth: certification.trustLevel, amount: certification.trustAmount ?? 0 } : null;
      found.push({ master, userId: user.userID.userID, at: new Date(made(certification)), trust, revoked, expired: expiredAt(certification, now) });
    }
  }
  return found;
}

/**
 * What FreePBX's `--check-sigs` regex finds: a revocation by `master` on any user ID of `key`
 * that GnuPG would mark good ("!"), whatever its date, and whether the master is RSA, since the
 * regex hard-codes algorithm 1.
 */
export async function masterRevocations(key: PublicKey, master: PublicKey, now: Date): Promise<Revocation[]> {
  const found: Revocation[] = [];
  for (const user of key.users) {
    if (user.userID === null) continue;
    const data = { userID: user.userID, key: key.keyPacket };
    const revocation = await firstRevocation(user.revocationSignatures, enums.signature.certRevocation, master.keyPacket, data, now);
    if (revocation) found.push(revocation);
  }
  return found;
}
