/**
 * A key's public status, from its master certifications: the page every revocation points to
 * ("the reason and date are at …/keys/FINGERPRINT"). Pure: the rows and the time in, the
 * status out.
 */
import { rawTime, SUBPACKET_TYPE } from "../transfer/subpacket-allowlist.ts";
import { scanPackets, TAG } from "../key-policy/packets.ts";
import { readSignatureLayout } from "../key-policy/subpackets.ts";

export interface CertificationRecord {
  userId: string;
  certifiedAt: Date;
  /** The stored certification packet, whose signed expiration time says when it lapses. */
  signature: Uint8Array;
  revokedAt: Date | null;
  /** The revocation's reason code (src/core/revocation-reasons.ts), when one was applied. */
  revocationReason: string | null;
}

export type KeyState = "certified" | "expired" | "revoked";

export interface CertificationPeriod {
  certifiedAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  revocationReason: string | null;
  state: KeyState;
}

export interface KeyStatus {
  /** The newest period's state: what an install sees now. */
  state: KeyState;
  /** Newest first; one per certification ceremony of this key. */
  periods: CertificationPeriod[];
}

/** When a stored certification lapses: its creation plus its signed expiration time; null if it never does. */
export function certificationExpiry(signature: Uint8Array): Date | null {
  const [packet] = scanPackets(signature).packets;
  const layout = packet?.tag === TAG.signature ? readSignatureLayout(packet.body) : null;
  if (!layout) return null;
  const created = rawTime(layout.hashed, SUBPACKET_TYPE.created);
  const lifetime = rawTime(layout.hashed, SUBPACKET_TYPE.expires);
  return created === null || lifetime === null || lifetime === 0 ? null : new Date((created + lifetime) * 1000);
}

/** What an install makes of one certification now: revoked, lapsed, or in force. */
export function certificationState(revokedAt: Date | null, expiresAt: Date | null, now: Date): KeyState {
  if (revokedAt !== null) return "revoked";
  return expiresAt !== null && expiresAt <= now ? "expired" : "certified";
}

/** Certifications made at one ceremony share a creation second; each such group is one period. */
export function keyStatus(records: readonly CertificationRecord[], now: Date): KeyStatus | null {
  const byCeremony = new Map<number, CertificationRecord[]>();
  for (const record of records) byCeremony.set(record.certifiedAt.getTime(), [...(byCeremony.get(record.certifiedAt.getTime()) ?? []), record]);
  const periods = [...byCeremony.values()]
    .map((group) => period(group, now))
    .sort((a, b) => b.certifiedAt.getTime() - a.certifiedAt.getTime());
  const [newest] = periods;
  return newest === undefined ? null : { state: newest.state, periods };
}

function period(group: readonly CertificationRecord[], now: Date): CertificationPeriod {
  const [first] = group;
  if (first === undefined) throw new Error("an empty ceremony");
  // A period is revoked once any of its certifications is; it lapses with its latest expiry.
  const revoked = group.find((record) => record.revokedAt !== null) ?? null;
  const expiries = group.map((record) => certificationExpiry(record.signature));
  const expiresAt = expiries.includes(null) ? null : new Date(Math.max(...expiries.map((date) => date?.getTime() ?? 0)));
  const revokedAt = revoked?.revokedAt ?? null;
  return { certifiedAt: first.certifiedAt, expiresAt, revokedAt, revocationReason: revoked?.revocationReason ?? null, state: certificationState(revokedAt, expiresAt, now) };
}
