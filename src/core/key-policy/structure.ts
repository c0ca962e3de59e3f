/**
 * Groups the packets of one transferable public key (RFC 4880 §11.1) into components, each
 * with the signatures that follow it. Nothing is judged here; the packets are parsed with
 * openpgp.js only so their signatures can be verified later.
 *
 * Identical user IDs or subkeys appearing twice are merged, as GnuPG does on import, so a
 * duplicate cannot smuggle a second set of signatures past the "newest valid" selection. They
 * are found by a digest of their bytes, so grouping stays linear however many packets come.
 */
import { createHash } from "node:crypto";
import { PublicSubkeyPacket, SignaturePacket, type PublicKeyPacket } from "openpgp";
import { equalBytes, TAG, type Packet } from "./packets.ts";
import { readSignatureLayout, type SignatureLayout } from "./subpackets.ts";

export interface ParsedSignature {
  raw: Uint8Array;
  layout: SignatureLayout;
  packet: SignaturePacket;
}

export interface SignatureSink {
  signatures: ParsedSignature[];
  /** Signature packets that could not be parsed (v3, v5, v6, damaged); always stripped. */
  unreadable: number;
}

export interface UserComponent extends SignatureSink {
  kind: "userId" | "userAttribute";
  raw: Uint8Array;
}

export interface SubkeyComponent extends SignatureSink {
  raw: Uint8Array;
  /** null when openpgp.js cannot parse it (unknown algorithm, damage); such subkeys are stripped. */
  packet: PublicSubkeyPacket | null;
}

export interface CertificateStructure {
  primaryRaw: Uint8Array;
  /** Signatures directly on the primary key: direct-key self-signatures and revocations. */
  direct: SignatureSink;
  users: UserComponent[];
  subkeys: SubkeyComponent[];
}

/** Components already seen, by packet type and a digest of the body, so each lookup is one step. */
interface Seen {
  users: Map<string, UserComponent>;
  subkeys: Map<string, SubkeyComponent>;
}

/** `packets` starts with the primary key and holds only key-related packets (see intake). */
export async function groupPackets(packets: readonly Packet[]): Promise<CertificateStructure> {
  const [primary, ...rest] = packets;
  const structure: CertificateStructure = {
    primaryRaw: primary?.body ?? new Uint8Array(),
    direct: { signatures: [], unreadable: 0 },
    users: [],
    subkeys: [],
  };
  const seen: Seen = { users: new Map(), subkeys: new Map() };
  let sink: SignatureSink = structure.direct;
  for (const packet of rest) {
    if (packet.tag === TAG.signature) {
      addSignature(sink, packet.body);
    } else if (packet.tag === TAG.userId || packet.tag === TAG.userAttribute) {
      sink = findOrAddUser(structure, seen, packet);
    } else if (packet.tag === TAG.publicSubkey) {
      sink = await findOrAddSubkey(structure, seen, packet.body);
    }
  }
  return structure;
}

function identity(tag: number, body: Uint8Array): string {
  return `${tag}:${createHash("sha256").update(body).digest("hex")}`;
}

function addSignature(sink: SignatureSink, raw: Uint8Array): void {
  const parsed = parseSignature(raw);
  if (parsed === null) sink.unreadable += 1;
  else sink.signatures.push(parsed);
}

/**
 * Parses a v4 signature packet; null for anything else (v3, v5, v6, damaged). The version is
 * checked on the raw bytes first, so the parser's only config-dependent switch (v5 parsing)
 * is never reached and its default applies.
 */
export function parseSignature(raw: Uint8Array): ParsedSignature | null {
  const layout = readSignatureLayout(raw);
  if (layout === null) return null;
  try {
    const packet = new SignaturePacket();
    packet.read(raw);
    return { raw, layout, packet };
  } catch {
    return null;
  }
}

function findOrAddUser(structure: CertificateStructure, seen: Seen, packet: Packet): UserComponent {
  const key = identity(packet.tag, packet.body);
  const existing = seen.users.get(key);
  if (existing) return existing;
  const user: UserComponent = { kind: packet.tag === TAG.userId ? "userId" : "userAttribute", raw: packet.body, signatures: [], unreadable: 0 };
  seen.users.set(key, user);
  structure.users.push(user);
  return user;
}

async function findOrAddSubkey(structure: CertificateStructure, seen: Seen, raw: Uint8Array): Promise<SubkeyComponent> {
  const key = identity(TAG.publicSubkey, raw);
  const existing = seen.subkeys.get(key);
  if (existing) return existing;
  const subkey: SubkeyComponent = { raw, packet: await parseKeyPacket(new PublicSubkeyPacket(), raw), signatures: [], unreadable: 0 };
  seen.subkeys.set(key, subkey);
  structure.subkeys.push(subkey);
  return subkey;
}

/**
 * Parses a v4 key packet (the version was checked at intake) and insists that it re-serialises
 * to the same bytes: trailing or non-canonical data would make fingerprints differ between
 * implementations.
 */
export async function parseKeyPacket<T extends PublicKeyPacket | PublicSubkeyPacket>(packet: T, raw: Uint8Array): Promise<T | null> {
  try {
    await packet.read(raw);
    return equalBytes(packet.write(), raw) ? packet : null;
  } catch {
    return null;
  }
}
