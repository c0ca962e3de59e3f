/**
 * Many certified keys, fast, for benchmarks: v4 Ed25519 keys with a Curve25519 encryption
 * subkey and a generic certification by one master, built packet by packet with node:crypto
 * (openpgp.js takes milliseconds a key; this takes tens of microseconds). The signatures are
 * real: GnuPG and openpgp.js verify them.
 */
import { createHash, createPublicKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { concatBytes, TAG, writePacket } from "../src/core/key-policy/packets.ts";

const ED25519_OID = [0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01];
const CURVE25519_OID = [0x2b, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01];
const EDDSA = 22;
const ECDH = 18;
const SHA256 = 8;

export interface SigningKey {
  privateKey: KeyObject;
  /** The public key packet body. */
  body: Uint8Array;
  fingerprint: Uint8Array;
}

export interface GeneratedKey {
  fingerprint: string;
  userId: string;
  canonicalKey: Uint8Array;
  /** The master's certification of the user ID (one signature packet). */
  certification: Uint8Array;
  createdAt: Date;
}

export function makeSigningKey(created: Date): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const body = keyBody(created, EDDSA, ED25519_OID, rawPublic(publicKey), []);
  return { privateKey, body, fingerprint: fingerprintOf(body) };
}

/** A key with one user ID and an encryption subkey, certified by `master`. */
export function makeCertifiedKey(master: SigningKey, userId: string, created: Date): GeneratedKey {
  const primary = makeSigningKey(created);
  const subkey = keyBody(created, ECDH, CURVE25519_OID, rawPublic(createPublicKey(generateKeyPairSync("x25519").privateKey)), [0x03, 0x01, SHA256, 0x07]);
  const uid = new TextEncoder().encode(userId);
  const at = seconds(created);
  const selfSignature = signature(primary, 0x13, [timeSubpacket(at), issuerFingerprint(primary), subpacket(27, [0x03])], [hashedKey(primary.body), hashedUserId(uid)]);
  const binding = signature(primary, 0x18, [timeSubpacket(at), issuerFingerprint(primary), subpacket(27, [0x0c])], [hashedKey(primary.body), hashedKey(subkey)]);
  const certification = signature(master, 0x10, [timeSubpacket(at + 60), subpacket(3, be32(730 * 86_400)), issuerFingerprint(master)], [hashedKey(primary.body), hashedUserId(uid)]);
  const canonicalKey = concatBytes([writePacket(TAG.publicKey, primary.body), writePacket(TAG.userId, uid), selfSignature, writePacket(TAG.publicSubkey, subkey), binding]);
  return { fingerprint: hex(primary.fingerprint), userId, canonicalKey, certification, createdAt: created };
}

function keyBody(created: Date, algorithm: number, oid: number[], point: Uint8Array, kdf: number[]): Uint8Array {
  return Uint8Array.from([4, ...be32(seconds(created)), algorithm, oid.length, ...oid, ...mpi(Uint8Array.from([0x40, ...point])), ...kdf]);
}

function rawPublic(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: "jwk" });
  return new Uint8Array(Buffer.from(jwk.x ?? "", "base64url"));
}

function fingerprintOf(body: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha1").update(hashedKey(body)).digest());
}

/** A v4 signature packet over `hashed` (the key, user ID or subkey material, already framed for hashing). */
function signature(signer: SigningKey, type: number, hashedSubpackets: Uint8Array[], hashed: Uint8Array[]): Uint8Array {
  const subpackets = concatBytes(hashedSubpackets);
  const head = Uint8Array.from([4, type, EDDSA, SHA256, subpackets.length >> 8, subpackets.length & 0xff, ...subpackets]);
  const trailer = Uint8Array.from([4, 0xff, ...be32(head.length)]);
  const digest = createHash("sha256").update(concatBytes([...hashed, head, trailer])).digest();
  // Legacy EdDSA signs the digest; r and s are the two halves of the Ed25519 signature.
  const raw = sign(null, digest, signer.privateKey);
  const issuer = subpacket(16, [...signer.fingerprint.slice(12)]);
  const body = concatBytes([head, Uint8Array.from([0, issuer.length]), issuer, digest.subarray(0, 2), mpi(raw.subarray(0, 32)), mpi(raw.subarray(32))]);
  return writePacket(TAG.signature, body);
}

function hashedKey(body: Uint8Array): Uint8Array {
  return Uint8Array.from([0x99, body.length >> 8, body.length & 0xff, ...body]);
}

function hashedUserId(uid: Uint8Array): Uint8Array {
  return Uint8Array.from([0xb4, ...be32(uid.length), ...uid]);
}

function subpacket(type: number, data: number[] | Uint8Array): Uint8Array {
  return Uint8Array.from([data.length + 1, type, ...data]);
}

function timeSubpacket(at: number): Uint8Array {
  return subpacket(2, be32(at));
}

function issuerFingerprint(key: SigningKey): Uint8Array {
  return subpacket(33, [4, ...key.fingerprint]);
}

/** An OpenPGP multiprecision integer: bit count, then the bytes without leading zeros. */
function mpi(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const value = bytes.subarray(start);
  const bits = (value.length - 1) * 8 + (32 - Math.clz32(value[0] ?? 0));
  return Uint8Array.from([bits >> 8, bits & 0xff, ...value]);
}

function be32(value: number): number[] {
  return [(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

function seconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex").toUpperCase();
}
