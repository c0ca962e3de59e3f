/**
 * A minimal, dependency-free OpenPGP packet framer (RFC 4880 §4.2 / RFC 9580 §4.2).
 *
 * The key policy must count keys and spot secret packets before any library interprets the
 * upload (openpgp.readKey silently takes the first key and happily parses secret keys), so we
 * walk the packet headers ourselves. Bodies are returned as views into the input.
 */

export const TAG = Object.freeze({
  publicKeyEncryptedSessionKey: 1,
  signature: 2,
  symEncryptedSessionKey: 3,
  onePassSignature: 4,
  secretKey: 5,
  publicKey: 6,
  secretSubkey: 7,
  compressedData: 8,
  symmetricallyEncryptedData: 9,
  marker: 10,
  literalData: 11,
  trust: 12,
  userId: 13,
  publicSubkey: 14,
  userAttribute: 17,
  symEncryptedIntegrityProtectedData: 18,
  aeadEncryptedData: 20,
  padding: 21,
});

export interface Packet {
  tag: number;
  body: Uint8Array;
  /** True when the body was sent in partial-length chunks, which only data packets may use. */
  partial: boolean;
}

export type ScanResult =
  | { complete: true; packets: Packet[] }
  /** `packets` holds what was framed before the damage, so callers can still look for secrets. */
  | { complete: false; packets: Packet[] };

interface Header {
  tag: number;
  headerLength: number;
  /** null means "to the end of the input" (old-format indeterminate length). */
  length: number | null;
  partialChunk: boolean;
}

/** Frames a packet sequence; never throws. */
export function scanPackets(bytes: Uint8Array): ScanResult {
  const packets: Packet[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const framed = framePacket(bytes, offset);
    if (framed === null) return { complete: false, packets };
    packets.push(framed.packet);
    offset = framed.next;
  }
  return { complete: true, packets };
}

/** What one linear pass over the packet headers saw; bodies are skipped, never copied. */
export interface PacketSurvey {
  /** Packets framed, indexed by tag (0–63). */
  counts: number[];
  total: number;
  /** Each tag once, in the order it first appears. */
  order: number[];
  /** False when the framing broke before the end; the counts cover what came before. */
  complete: boolean;
  /** A secret key or secret subkey packet (GnuPG stubs included) was framed. */
  secret: boolean;
  /** Some packet used partial body lengths, which only data packets may use. */
  partial: boolean;
}

/**
 * Counts packets by type on raw bytes, for the limits that must hold before anything parses
 * the upload. Frames exactly as `scanPackets` does, in time linear in the input and with
 * constant memory per packet type, however many packets there are.
 */
export function surveyPackets(bytes: Uint8Array): PacketSurvey {
  const survey: PacketSurvey = { counts: new Array<number>(64).fill(0), total: 0, order: [], complete: true, secret: false, partial: false };
  let offset = 0;
  while (offset < bytes.length) {
    const header = readHeader(bytes, offset);
    const start = offset + (header?.headerLength ?? 0);
    const next = header === null ? null : header.partialChunk ? skipPartialBody(bytes, header, start) : bodyEnd(bytes, header, start);
    if (header === null || next === null) return { ...survey, complete: false };
    recordPacket(survey, header, next > start ? bytes[start] : undefined);
    offset = next;
  }
  return survey;
}

function recordPacket(survey: PacketSurvey, header: Header, firstByte: number | undefined): void {
  if (survey.counts[header.tag] === 0) survey.order.push(header.tag);
  survey.counts[header.tag] = (survey.counts[header.tag] ?? 0) + 1;
  survey.total += 1;
  survey.partial ||= header.partialChunk;
  survey.secret ||= (header.tag === TAG.secretKey || header.tag === TAG.secretSubkey) && isPlausibleKeyVersion(firstByte);
}

/** Random bytes can frame as a "secret key" header; a real key packet starts with a known version. */
function isPlausibleKeyVersion(version: number | undefined): boolean {
  return version !== undefined && version >= 2 && version <= 6;
}

function bodyEnd(bytes: Uint8Array, header: Header, start: number): number | null {
  const end = header.length === null ? bytes.length : start + header.length;
  return end > bytes.length ? null : end;
}

/** Where a partial-length body ends, or null if it runs past the input; the chunks are not joined. */
function skipPartialBody(bytes: Uint8Array, first: Header, start: number): number | null {
  let offset = start + (first.length ?? 0);
  while (offset <= bytes.length) {
    const next = readNewLength(bytes, offset);
    if (next === null) return null;
    offset += next.size + next.length;
    if (!next.partial) return offset > bytes.length ? null : offset;
  }
  return null;
}

function framePacket(bytes: Uint8Array, start: number): { packet: Packet; next: number } | null {
  const header = readHeader(bytes, start);
  if (header === null) return null;
  const offset = start + header.headerLength;
  if (!header.partialChunk) {
    const end = header.length === null ? bytes.length : offset + header.length;
    if (end > bytes.length) return null;
    return { packet: { tag: header.tag, body: bytes.subarray(offset, end), partial: false }, next: end };
  }
  return framePartialBody(bytes, header, offset);
}

function framePartialBody(bytes: Uint8Array, first: Header, start: number): { packet: Packet; next: number } | null {
  const chunks: Uint8Array[] = [];
  let offset = start;
  let chunkLength = first.length ?? 0;
  let last = false;
  while (!last) {
    if (offset + chunkLength > bytes.length) return null;
    chunks.push(bytes.subarray(offset, offset + chunkLength));
    offset += chunkLength;
    const next = readNewLength(bytes, offset);
    if (next === null) return null;
    offset += next.size;
    chunkLength = next.length;
    last = !next.partial;
  }
  if (offset + chunkLength > bytes.length) return null;
  chunks.push(bytes.subarray(offset, offset + chunkLength));
  return { packet: { tag: first.tag, body: concatBytes(chunks), partial: true }, next: offset + chunkLength };
}

function readHeader(bytes: Uint8Array, offset: number): Header | null {
  const ctb = bytes[offset];
  if (ctb === undefined || (ctb & 0x80) === 0) return null;
  if ((ctb & 0x40) !== 0) {
    const length = readNewLength(bytes, offset + 1);
    if (length === null) return null;
    return { tag: ctb & 0x3f, headerLength: 1 + length.size, length: length.length, partialChunk: length.partial };
  }
  const tag = (ctb >> 2) & 0x0f;
  const lengthType = ctb & 0x03;
  if (lengthType === 3) return { tag, headerLength: 1, length: null, partialChunk: false };
  const size = 1 << lengthType;
  const length = readNumber(bytes, offset + 1, size);
  if (length === null) return null;
  return { tag, headerLength: 1 + size, length, partialChunk: false };
}

function readNewLength(bytes: Uint8Array, offset: number): { length: number; size: number; partial: boolean } | null {
  const first = bytes[offset];
  if (first === undefined) return null;
  if (first < 192) return { length: first, size: 1, partial: false };
  if (first < 224) {
    const second = bytes[offset + 1];
    if (second === undefined) return null;
    return { length: ((first - 192) << 8) + second + 192, size: 2, partial: false };
  }
  if (first < 255) return { length: 1 << (first & 0x1f), size: 1, partial: true };
  const length = readNumber(bytes, offset + 1, 4);
  return length === null ? null : { length, size: 5, partial: false };
}

/** Big-endian unsigned integer of `size` (≤ 4) bytes, or null past the end. */
export function readNumber(bytes: Uint8Array, offset: number, size: number): number | null {
  if (offset + size > bytes.length) return null;
  let value = 0;
  for (let i = 0; i < size; i++) value = value * 256 + (bytes[offset + i] ?? 0);
  return value;
}

/** Serialises one packet with a new-format header and the shortest length encoding. */
export function writePacket(tag: number, body: Uint8Array): Uint8Array {
  return concatBytes([new Uint8Array([0xc0 | tag]), encodeLength(body.length), body]);
}

/** The body-length encoding shared by new-format packets and signature subpackets. */
export function encodeLength(length: number): Uint8Array {
  if (length < 192) return new Uint8Array([length]);
  if (length < 8384) {
    const rest = length - 192;
    return new Uint8Array([(rest >> 8) + 192, rest & 0xff]);
  }
  return new Uint8Array([255, (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff]);
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}
