import type { ChainedAuditEvent } from "../core/audit-chain.ts";
import type { Db } from "../db/client.ts";
import type { Prisma } from "../generated/prisma/client.ts";

export const AUDIT_PAGE_SIZE = 50;

export interface AuditFilter {
  action?: string;
  actor?: string;
  requestId?: string;
  from?: Date;
  to?: Date;
}

/** A stored event with the email of its staff actor, when the actor is staff. */
export type AuditRow = ChainedAuditEvent & { actorEmail: string | null };

function whereFor(filter: AuditFilter, staffIds: string[] | null): Prisma.AuditEventWhereInput {
  return {
    ...(filter.action ? { action: { startsWith: filter.action } } : {}),
    ...(filter.requestId ? { requestId: filter.requestId } : {}),
    ...(staffIds ? { actorId: { in: staffIds } } : {}),
    ...(filter.from || filter.to ? { at: { ...(filter.from ? { gte: filter.from } : {}), ...(filter.to ? { lt: filter.to } : {}) } } : {}),
  };
}

/** Newest first. `actor` matches a staff email or an applicant id. */
export async function listAuditEvents(db: Db, filter: AuditFilter, page: number | null): Promise<{ rows: AuditRow[]; total: number }> {
  const staffIds = filter.actor ? await actorIds(db, filter.actor) : null;
  const where = whereFor(filter, staffIds);
  const [total, events] = await Promise.all([
    db.auditEvent.count({ where }),
    db.auditEvent.findMany({ where, orderBy: { seq: "desc" }, ...(page ? { skip: (page - 1) * AUDIT_PAGE_SIZE, take: AUDIT_PAGE_SIZE } : {}) }),
  ]);
  const staff = await db.staff.findMany({ where: { id: { in: events.flatMap((e) => (e.actorType === "staff" && e.actorId ? [e.actorId] : [])) } }, select: { id: true, email: true } });
  const emails = new Map(staff.map((s) => [s.id, s.email]));
  return { total, rows: events.map((e) => ({ ...e, actorEmail: e.actorId ? emails.get(e.actorId) ?? null : null })) };
}

async function actorIds(db: Db, actor: string): Promise<string[]> {
  const staff = await db.staff.findMany({ where: { email: { contains: actor.toLowerCase() } }, select: { id: true } });
  const applicants = await db.applicant.findMany({ where: { email: { contains: actor.toLowerCase() } }, select: { id: true } });
  return [...staff.map((s) => s.id), ...applicants.map((a) => a.id), actor];
}
