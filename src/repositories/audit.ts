import { hashAuditEvent, GENESIS_HASH, type AuditFields, type ChainedAuditEvent } from "../core/audit-chain.ts";
import type { Db, Tx } from "../db/client.ts";

export interface AuditInput {
  actorType: "applicant" | "staff" | "system";
  actorId: string | null;
  ip: string | null;
  action: string;
  requestId?: string | null;
  fromState?: string | null;
  toState?: string | null;
  data?: Record<string, unknown>;
}

export interface TimelineEntry {
  seq: number;
  at: Date;
  actorType: string;
  actorId: string | null;
  action: string;
  fromState: string | null;
  toState: string | null;
  data: Record<string, unknown>;
}

/** Appends inside the caller's transaction, so the event commits with the change it records. */
export async function appendAuditEvent(tx: Tx, input: AuditInput, now: Date): Promise<ChainedAuditEvent> {
  const last = await tx.auditEvent.findFirst({ orderBy: { seq: "desc" }, select: { seq: true, hash: true } });
  const fields: AuditFields = {
    seq: (last?.seq ?? 0) + 1,
    at: now,
    actorType: input.actorType,
    actorId: input.actorId,
    ip: input.ip,
    action: input.action,
    requestId: input.requestId ?? null,
    fromState: input.fromState ?? null,
    toState: input.toState ?? null,
    data: JSON.stringify(input.data ?? {}),
  };
  const prevHash = last?.hash ?? GENESIS_HASH;
  const event = { ...fields, prevHash, hash: hashAuditEvent(fields, prevHash) };
  await tx.auditEvent.create({ data: event });
  return event;
}

export async function listTimeline(db: Db, requestId: string): Promise<TimelineEntry[]> {
  const rows = await db.auditEvent.findMany({ where: { requestId }, orderBy: { seq: "asc" } });
  return rows.map((row) => ({
    seq: row.seq,
    at: row.at,
    actorType: row.actorType,
    actorId: row.actorId,
    action: row.action,
    fromState: row.fromState,
    toState: row.toState,
    data: parseData(row.data),
  }));
}

export async function listAuditChain(db: Db): Promise<ChainedAuditEvent[]> {
  return db.auditEvent.findMany({ orderBy: { seq: "asc" } });
}

function parseData(text: string): Record<string, unknown> {
  const parsed: unknown = JSON.parse(text);
  return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? Object.fromEntries(Object.entries(parsed)) : {};
}
