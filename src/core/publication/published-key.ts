/**
 * The published form of a certified key: its canonical copy with every master certification and
 * every published revocation, from every request that certified it. Once published, nothing is
 * withdrawn, so a refresh always brings the revocation of a certification it saw before.
 */
import { PublicKeyPacket, PublicSubkeyPacket } from "openpgp";
import { scanPackets, TAG } from "../key-policy/packets.ts";
import { parseKeyPacket } from "../key-policy/structure.ts";
import { assembleCertifiedKey, type CertifiedUserId } from "../transfer/certified-key.ts";

export interface PublishedKeySource {
  fingerprint: string;
  /** The canonical copy of the newest request that certified the key. */
  canonicalKey: Uint8Array;
  /** Every certification of the key, oldest first, with its published revocation. */
  certifications: readonly CertifiedUserId[];
}

/** The key as installs fetch it; the same bytes until a certification or revocation is added. */
export function publishedForm(source: PublishedKeySource): Uint8Array {
  const decoder = new TextDecoder();
  const userIds = new Set(scanPackets(source.canonicalKey).packets.filter((packet) => packet.tag === TAG.userId).map((packet) => decoder.decode(packet.body)));
  // A user ID an earlier request certified but the newest canonical copy lacks cannot be placed.
  return assembleCertifiedKey(source.canonicalKey, source.certifications.filter((entry) => userIds.has(entry.userId)));
}

/** The 16-digit key IDs of the primary key and every subkey, upper case. */
export async function keyIdsOf(canonicalKey: Uint8Array): Promise<string[]> {
  const ids: string[] = [];
  for (const packet of scanPackets(canonicalKey).packets) {
    const parsed =
      packet.tag === TAG.publicKey ? await parseKeyPacket(new PublicKeyPacket(), packet.body) : packet.tag === TAG.publicSubkey ? await parseKeyPacket(new PublicSubkeyPacket(), packet.body) : null;
    if (parsed) ids.push(parsed.getKeyID().toHex().toUpperCase());
  }
  return ids;
}
