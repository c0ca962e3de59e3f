import type { ChainedAuditEvent } from "../core/audit-chain.ts";
import type { Db } from "../db/client.ts";
import type { Prisma } from "../generated/prisma/client.ts";

export const AUDIT_PAGE_SIZE = 50;

/** Who did it: anyone of a kind, or one person by email address (staff or applicant) or id. */
export type AuditActorFilter = "system" | "applicants" | "staff" | string;

export interface AuditFilter {
  /** An action code, or a group of them by its prefix ending in "." ("request."). */
  action?: string;
  actor?: AuditActorFilter;
  requestId?: string;
  from?: Date;
  to?: Date;
}

/** A stored event with the email of its staff actor, when the actor is staff. */
export type AuditRow = ChainedAuditEvent & { actorEmail: string | null };

/** A page's event as the log tells it: the actor by email (staff or applicant) and the request it concerns. */
export type AuditPageRow = AuditRow & { actorName: string | null; request: { applicantEmail: string; fingerprint: string } | null };

const ACTOR_KINDS: Record<string, string> = { system: "system", applicants: "applicant", staff: "staff" };

async function whereFor(db: Db, filter: AuditFilter): Promise<Prisma.AuditEventWhereInput> {
  const action = filter.action;
  return {
    ...(action ? { action: action.endsWith(".") ? { startsWith: action } : action } : {}),
    ...(filter.requestId ? { requestId: filter.requestId } : {}),
    ...(filter.actor ? await actorWhere(db, filter.actor) : {}),
    ...(filter.from || filter.to ? { at: { ...(filter.from ? { gte: filter.from } : {}), ...(filter.to ? { lt: filter.to } : {}) } } : {}),
  };
}

async function actorWhere(db: Db, actor: string): Promise<Prisma.AuditEventWhereInput> {
  const kind = ACTOR_KINDS[actor];
  if (kind) return { actorType: kind };
  if (!actor.includes("@")) return { actorId: actor };
  const email = actor.toLowerCase();
  const [staff, applicant] = await Promise.all([
    db.staff.findUnique({ where: { email }, select: { id: true } }),
    db.applicant.findUnique({ where: { email }, select: { id: true } }),
  ]);
  return { actorId: { in: [staff?.id, applicant?.id].filter((id): id is string => id !== undefined) } };
}

/** Newest first; every event when `page` is null (the CSV export). */
export async function listAuditEvents(db: Db, filter: AuditFilter, page: number | null): Promise<{ rows: AuditRow[]; total: number }> {
  const where = await whereFor(db, filter);
  const [total, events] = await Promise.all([
    db.auditEvent.count({ where }),
    db.auditEvent.findMany({ where, orderBy: { seq: "desc" }, ...(page ? { skip: (page - 1) * AUDIT_PAGE_SIZE, take: AUDIT_PAGE_SIZE } : {}) }),
  ]);
  const staff = await db.staff.findMany({ where: { id: { in: events.flatMap((e) => (e.actorType === "staff" && e.actorId ? [e.actorId] : [])) } }, select: { id: true, email: true } });
  const emails = new Map(staff.map((s) => [s.id, s.email]));
  return { total, rows: events.map((e) => ({ ...e, actorEmail: e.actorId ? emails.get(e.actorId) ?? null : null })) };
}

/** One page of the log with the names people read: applicants' emails and each request's applicant and key. */
export async function listAuditPage(db: Db, filter: AuditFilter, page: number): Promise<{ rows: AuditPageRow[]; total: number }> {
  const { rows, total } = await listAuditEvents(db, filter, page);
  const applicantIds = rows.flatMap((r) => (r.actorType === "applicant" && r.actorId ? [r.actorId] : []));
  const requestIds = [...new Set(rows.flatMap((r) => (r.requestId ? [r.requestId] : [])))];
  const [applicants, requests] = await Promise.all([
    db.applicant.findMany({ where: { id: { in: applicantIds } }, select: { id: true, email: true } }),
    db.request.findMany({
      where: { id: { in: requestIds } },
      select: { id: true, applicant: { select: { email: true } }, keys: { orderBy: { revision: "desc" }, take: 1, select: { fingerprint: true } } },
    }),
  ]);
  const applicantEmails = new Map(applicants.map((a) => [a.id, a.email]));
  const labels = new Map(requests.map((r) => [r.id, { applicantEmail: r.applicant.email, fingerprint: r.keys[0]?.fingerprint ?? "" }]));
  return {
    total,
    rows: rows.map((row) => ({
      ...row,
      actorName: row.actorEmail ?? (row.actorType === "applicant" && row.actorId ? applicantEmails.get(row.actorId) ?? null : null),
      request: row.requestId ? labels.get(row.requestId) ?? null : null,
    })),
  };
}

/** Every staff account's email, for the actor filter. */
export async function listStaffEmails(db: Db): Promise<string[]> {
  const rows = await db.staff.findMany({ orderBy: { email: "asc" }, select: { email: true } });
  return rows.map((row) => row.email);
}

/** The request the log is filtered to, named as a person reads it. */
export async function findRequestLabel(db: Db, requestId: string): Promise<{ applicantEmail: string; fingerprint: string } | null> {
  const row = await db.request.findUnique({ where: { id: requestId }, select: { applicant: { select: { email: true } }, keys: { orderBy: { revision: "desc" }, take: 1, select: { fingerprint: true } } } });
  return row ? { applicantEmail: row.applicant.email, fingerprint: row.keys[0]?.fingerprint ?? "" } : null;
}
