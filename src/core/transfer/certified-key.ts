/**
 * The certified key as its owner and relying parties receive it: the canonical key with the
 * master key's certifications (and any published revocations) placed after the user IDs they
 * are about.
 *
 * The canonical key is primary, an optional direct-key signature, each user ID followed by its
 * self-signature, then each subkey followed by its binding. A certification goes right after its
 * user ID's self-signature and a revocation after the certification, as GnuPG writes them. Only
 * whole signature packets are inserted; nothing else of the key changes.
 */
import { concatBytes, equalBytes, scanPackets, TAG, writePacket, type Packet } from "../key-policy/packets.ts";

export interface CertifiedUserId {
  userId: string;
  /** One complete signature packet (header included) made by the master key. */
  certification: Uint8Array;
  /** The certification revocation (0x30) when it has been published; never the sealed one before that. */
  revocation?: Uint8Array | null;
}

export interface AssembleOptions {
  /** Keep only this user ID and its signatures, as caff sends one user ID per message. */
  onlyUserId?: string;
}

export function assembleCertifiedKey(canonicalKey: Uint8Array, entries: readonly CertifiedUserId[], options: AssembleOptions = {}): Uint8Array {
  const packets = readKeyPackets(canonicalKey);
  const userIds = packets.filter((p) => p.tag === TAG.userId).map((p) => p.body);
  const encoder = new TextEncoder();
  // A user ID certified at several ceremonies (certified again after a revocation) carries every
  // certification, each followed by its revocation, in the order given.
  const byUserId = new Map<string, CertifiedUserId[]>();
  for (const entry of entries) {
    if (!userIds.some((raw) => equalBytes(raw, encoder.encode(entry.userId)))) throw new Error("a certification names a user ID the key does not have");
    checkSignaturePacket(entry.certification);
    if (entry.revocation) checkSignaturePacket(entry.revocation);
    const earlier = byUserId.get(entry.userId) ?? [];
    if (earlier.some((other) => equalBytes(other.certification, entry.certification))) throw new Error("the same certification is given twice");
    byUserId.set(entry.userId, [...earlier, entry]);
  }
  const only = options.onlyUserId === undefined ? null : encoder.encode(options.onlyUserId);
  if (only && !userIds.some((raw) => equalBytes(raw, only))) throw new Error("the user ID to keep is not in the key");

  const out: Uint8Array[] = [];
  // The certifications of the user ID whose signatures are being copied.
  let pending: CertifiedUserId[] = [];
  let dropping = false;
  const flush = () => {
    for (const entry of pending) out.push(entry.certification, ...(entry.revocation ? [entry.revocation] : []));
    pending = [];
  };
  for (const packet of packets) {
    if (packet.tag !== TAG.signature) flush();
    if (packet.tag === TAG.userId) {
      dropping = only !== null && !equalBytes(packet.body, only);
      pending = dropping ? [] : (byUserId.get(new TextDecoder().decode(packet.body)) ?? []);
    } else if (packet.tag !== TAG.signature) {
      dropping = false;
    }
    if (!dropping) out.push(writePacket(packet.tag, packet.body));
  }
  flush();
  return concatBytes(out);
}

function readKeyPackets(canonicalKey: Uint8Array): Packet[] {
  const scan = scanPackets(canonicalKey);
  if (!scan.complete || scan.packets[0]?.tag !== TAG.publicKey) throw new Error("the stored key is not a binary public key");
  const allowed: readonly number[] = [TAG.publicKey, TAG.signature, TAG.userId, TAG.publicSubkey];
  if (scan.packets.some((p, index) => !allowed.includes(p.tag) || (index > 0 && p.tag === TAG.publicKey))) {
    throw new Error("the stored key holds packets a canonical key does not have");
  }
  return scan.packets;
}

function checkSignaturePacket(bytes: Uint8Array): void {
  const scan = scanPackets(bytes);
  if (!scan.complete || scan.packets.length !== 1 || scan.packets[0]?.tag !== TAG.signature) {
    throw new Error("a certification or revocation is not exactly one signature packet");
  }
}
