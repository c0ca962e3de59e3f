import { createHash } from "node:crypto";
import { toHex, type Packet } from "./packets.ts";

/** RFC 4880 §12.2: SHA-1 over 0x99, the two-octet body length and the key packet body; null for a key that is not version 4. */
export function v4Fingerprint(packet: Packet): string | null {
  if (packet.body[0] !== 4) return null;
  const header = Uint8Array.of(0x99, (packet.body.length >> 8) & 0xff, packet.body.length & 0xff);
  return toHex(createHash("sha1").update(header).update(packet.body).digest()).toUpperCase();
}

/** "5F72 6FA3 3EDF …": upper-case hex in groups of four separated by single spaces. */
export function formatFingerprint(fpr: string): string {
  const hex = fpr.replace(/\s+/g, "").toUpperCase();
  return (hex.match(/.{1,4}/g) ?? []).join(" ");
}
