/**
 * Raw access to a v4 signature's subpacket areas (RFC 4880 §5.2.3).
 *
 * The canonical copy keeps every hashed byte as signed and rebuilds only the unhashed area,
 * which no signature covers and anyone can edit. We work on the raw body rather than
 * re-serialising through a library so the signed bytes are provably untouched.
 */
import { concatBytes, encodeLength, readNumber } from "./packets.ts";

export const SUBPACKET = Object.freeze({
  issuerKeyId: 16,
  embeddedSignature: 32,
  issuerFingerprint: 33,
});

export interface Subpacket {
  type: number;
  critical: boolean;
  body: Uint8Array;
}

export interface SignatureLayout {
  version: number;
  signatureType: number;
  publicKeyAlgorithm: number;
  hashAlgorithm: number;
  hashed: Subpacket[];
  unhashed: Subpacket[];
  /** Bytes up to and including the hashed area: exactly what the signature covers. */
  signedPrefix: Uint8Array;
  /** The 2-byte hash prefix and the signature MPIs. */
  trailer: Uint8Array;
}

/** Splits a v4 signature body; null when it is not a well-formed v4 signature. */
export function readSignatureLayout(body: Uint8Array): SignatureLayout | null {
  if (body[0] !== 4 || body.length < 6) return null;
  const hashedLength = readNumber(body, 4, 2);
  if (hashedLength === null) return null;
  const hashedEnd = 6 + hashedLength;
  const unhashedLength = readNumber(body, hashedEnd, 2);
  if (unhashedLength === null) return null;
  const unhashedEnd = hashedEnd + 2 + unhashedLength;
  if (unhashedEnd + 2 > body.length) return null;
  const hashed = readSubpackets(body.subarray(6, hashedEnd));
  const unhashed = readSubpackets(body.subarray(hashedEnd + 2, unhashedEnd));
  if (hashed === null || unhashed === null) return null;
  return {
    version: 4,
    signatureType: body[1] ?? 0,
    publicKeyAlgorithm: body[2] ?? 0,
    hashAlgorithm: body[3] ?? 0,
    hashed,
    unhashed,
    signedPrefix: body.subarray(0, hashedEnd),
    trailer: body.subarray(unhashedEnd),
  };
}

function readSubpackets(area: Uint8Array): Subpacket[] | null {
  const out: Subpacket[] = [];
  let offset = 0;
  while (offset < area.length) {
    const length = readSubpacketLength(area, offset);
    if (length === null || length.length === 0) return null;
    const start = offset + length.size;
    const end = start + length.length;
    if (end > area.length) return null;
    const typeByte = area[start] ?? 0;
    out.push({ type: typeByte & 0x7f, critical: (typeByte & 0x80) !== 0, body: area.subarray(start + 1, end) });
    offset = end;
  }
  return out;
}

export type SubpacketBounds = "ok" | "too-many" | "bad-embedded";

/**
 * Checked on a raw signature before any parser builds its subpackets (openpgp.js parses every
 * embedded signature, recursively): at most `max` subpackets, those of embedded signatures
 * included, and each embedded signature a v4 signature whose areas frame and which embeds none
 * itself (a back-signature never does). Stops at the first excess, so it takes at most `max`
 * steps. A signature that is not v4 or does not frame passes: it is never parsed (see
 * `readSignatureLayout`).
 */
export function checkSubpacketBounds(body: Uint8Array, max: number): SubpacketBounds {
  return walkSubpackets(body, false, { left: max });
}

function walkSubpackets(body: Uint8Array, embedded: boolean, budget: { left: number }): SubpacketBounds {
  const unreadable: SubpacketBounds = embedded ? "bad-embedded" : "ok";
  const areas = subpacketAreas(body);
  if (areas === null) return unreadable;
  for (const area of areas) {
    for (let offset = 0; offset < area.length; ) {
      const length = readSubpacketLength(area, offset);
      const start = offset + (length?.size ?? 0);
      const end = start + (length?.length ?? 0);
      if (length === null || length.length === 0 || end > area.length) return unreadable;
      budget.left -= 1;
      if (budget.left < 0) return "too-many";
      const inner = ((area[start] ?? 0) & 0x7f) === SUBPACKET.embeddedSignature ? embeddedBounds(area.subarray(start + 1, end), embedded, budget) : "ok";
      if (inner !== "ok") return inner;
      offset = end;
    }
  }
  return "ok";
}

function embeddedBounds(body: Uint8Array, insideEmbedded: boolean, budget: { left: number }): SubpacketBounds {
  return insideEmbedded ? "bad-embedded" : walkSubpackets(body, true, budget);
}

/** The hashed and unhashed areas of a v4 signature, or null. */
function subpacketAreas(body: Uint8Array): [Uint8Array, Uint8Array] | null {
  if (body[0] !== 4) return null;
  const hashedLength = readNumber(body, 4, 2);
  if (hashedLength === null) return null;
  const unhashedLength = readNumber(body, 6 + hashedLength, 2);
  const unhashedStart = 8 + hashedLength;
  if (unhashedLength === null || unhashedStart + unhashedLength + 2 > body.length) return null;
  return [body.subarray(6, 6 + hashedLength), body.subarray(unhashedStart, unhashedStart + unhashedLength)];
}

function readSubpacketLength(area: Uint8Array, offset: number): { length: number; size: number } | null {
  const first = area[offset];
  if (first === undefined) return null;
  if (first < 192) return { length: first, size: 1 };
  if (first < 255) {
    const second = area[offset + 1];
    return second === undefined ? null : { length: ((first - 192) << 8) + second + 192, size: 2 };
  }
  const length = readNumber(area, offset + 1, 4);
  return length === null ? null : { length, size: 5 };
}

/** Rebuilds the signature body with `unhashed` as its whole unhashed area. */
export function withUnhashedArea(layout: SignatureLayout, unhashed: readonly Subpacket[]): Uint8Array {
  const area = concatBytes(unhashed.map(writeSubpacket));
  const length = new Uint8Array([(area.length >> 8) & 0xff, area.length & 0xff]);
  return concatBytes([layout.signedPrefix, length, area, layout.trailer]);
}

function writeSubpacket(subpacket: Subpacket): Uint8Array {
  const typeByte = new Uint8Array([subpacket.type | (subpacket.critical ? 0x80 : 0)]);
  return concatBytes([encodeLength(subpacket.body.length + 1), typeByte, subpacket.body]);
}

export function findSubpackets(area: readonly Subpacket[], type: number): Subpacket[] {
  return area.filter((subpacket) => subpacket.type === type);
}
