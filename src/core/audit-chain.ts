import { createHash } from "node:crypto";

/**
 * The audit log is a hash chain: each event's hash covers its own fields and the
 * previous event's hash, so editing a row, or deleting any row but the newest, breaks the
 * chain at that point. Cutting events off the end leaves a shorter valid chain: only a head
 * hash kept elsewhere (printed by `keysign audit verify`) shows that.
 */
export const GENESIS_HASH = "0".repeat(64);

export interface AuditFields {
  seq: number;
  at: Date;
  actorType: string;
  actorId: string | null;
  ip: string | null;
  action: string;
  requestId: string | null;
  fromState: string | null;
  toState: string | null;
  /** JSON text, hashed as stored. */
  data: string;
}

export interface ChainedAuditEvent extends AuditFields {
  prevHash: string;
  hash: string;
}

export function hashAuditEvent(fields: AuditFields, prevHash: string): string {
  // A JSON array fixes field order and escapes every value, so no two events share an encoding.
  const encoded = JSON.stringify([
    prevHash,
    fields.seq,
    fields.at.toISOString(),
    fields.actorType,
    fields.actorId,
    fields.ip,
    fields.action,
    fields.requestId,
    fields.fromState,
    fields.toState,
    fields.data,
  ]);
  return createHash("sha256").update(encoded, "utf8").digest("hex");
}

export type ChainVerdict =
  | { ok: true; count: number; head: string }
  | { ok: false; brokenAt: number; reason: "hash_mismatch" | "prev_mismatch" | "gap" };

/** Checks events in `seq` order; reports the first event whose link does not hold. */
export function verifyAuditChain(events: readonly ChainedAuditEvent[]): ChainVerdict {
  let prevHash = GENESIS_HASH;
  let prevSeq = 0;
  for (const event of events) {
    if (event.seq !== prevSeq + 1) return { ok: false, brokenAt: event.seq, reason: "gap" };
    if (event.prevHash !== prevHash) return { ok: false, brokenAt: event.seq, reason: "prev_mismatch" };
    if (hashAuditEvent(event, prevHash) !== event.hash) return { ok: false, brokenAt: event.seq, reason: "hash_mismatch" };
    prevHash = event.hash;
    prevSeq = event.seq;
  }
  return { ok: true, count: events.length, head: prevHash };
}
