import { isRequestState, REQUEST_STATES, type RequestState } from "../core/request-lifecycle.ts";
import type { Db } from "../db/client.ts";
import { certificationExpiresAt, parseStrings } from "./requests.ts";

export interface ReviewListItem {
  id: string;
  state: RequestState;
  applicantEmail: string;
  fingerprint: string;
  userIds: string[];
  createdAt: Date;
  updatedAt: Date;
  /** When the master's certification lapses (null: not certified, or never). */
  certificationExpiresAt: Date | null;
}

interface ListRow {
  id: string;
  state: string;
  createdAt: Date;
  updatedAt: Date;
  applicant: { email: string };
  keys: Array<{ fingerprint: string; certifyUserIds: string }>;
  certifications?: Array<{ signature: Uint8Array }>;
}

function toListItem(row: ListRow): ReviewListItem {
  return {
    id: row.id,
    state: isRequestState(row.state) ? row.state : "submitted",
    applicantEmail: row.applicant.email,
    fingerprint: row.keys[0]?.fingerprint ?? "",
    userIds: parseStrings(row.keys[0]?.certifyUserIds ?? "[]"),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    certificationExpiresAt: certificationExpiresAt(row.certifications ?? []),
  };
}

/** Fingerprint search needs at least 16 hex digits: shorter ones match too much to be meaningful. */
export function fingerprintQuery(query: string): string | null {
  const hex = query.replace(/\s+/g, "").toUpperCase();
  return /^[0-9A-F]{16,40}$/.test(hex) ? hex : null;
}

export async function countByState(db: Db): Promise<Record<RequestState, number>> {
  const groups = await db.request.groupBy({ by: ["state"], _count: { _all: true } });
  const counts = Object.fromEntries(REQUEST_STATES.map((s) => [s, 0])) as Record<RequestState, number>;
  for (const group of groups) if (isRequestState(group.state)) counts[group.state] = group._count._all;
  return counts;
}

export const WAITING_FOR_REVIEW: RequestState[] = ["submitted", "in_review"];

/** The request that has waited longest for review, whatever other requests exist. */
export async function findOldestWaiting(db: Db): Promise<ReviewListItem | null> {
  const row = await db.request.findFirst({
    where: { state: { in: WAITING_FOR_REVIEW } },
    orderBy: [{ updatedAt: "asc" }, { id: "asc" }],
    include: { applicant: { select: { email: true } }, keys: { orderBy: { revision: "desc" }, take: 1 } },
  });
  return row ? toListItem(row) : null;
}

/**
 * Requests waiting for review whose current revision this staff member has not approved, minus
 * their own (nobody approves those): the same requests as the list's "Needs my approval".
 */
export async function listWaitingFor(db: Db, staffId: string): Promise<ReviewListItem[]> {
  const staff = await db.staff.findUnique({ where: { id: staffId }, select: { email: true } });
  const rows = await db.request.findMany({
    where: {
      state: { in: WAITING_FOR_REVIEW },
      ...(staff ? { NOT: { applicant: { addresses: { some: { address: staff.email.toLowerCase(), confirmedAt: { not: null } } } } } } : {}),
    },
    orderBy: { updatedAt: "asc" },
    select: {
      id: true,
      state: true,
      createdAt: true,
      updatedAt: true,
      applicant: { select: { email: true } },
      keys: { orderBy: { revision: "desc" }, take: 1, select: { revision: true, fingerprint: true, certifyUserIds: true } },
      approvals: { where: { staffId }, select: { revision: true } },
    },
  });
  return rows
    .filter((row) => !row.approvals.some((a) => a.revision === row.keys[0]?.revision))
    .map(toListItem);
}

export interface StaffView {
  applicantEmail: string;
  addresses: Array<{ address: string; confirmed: boolean }>;
  /** Approvals of the current revision. */
  approvals: Array<{ staffId: string; staffEmail: string; at: Date }>;
  notes: Array<{ staffEmail: string; body: string; at: Date }>;
  /** Staff emails by id, to name the actors of the timeline. */
  actors: Map<string, string>;
}

export async function loadStaffView(db: Db, requestId: string, revision: number): Promise<StaffView | null> {
  const row = await db.request.findUnique({
    where: { id: requestId },
    include: {
      applicant: { include: { addresses: { orderBy: { createdAt: "asc" } } } },
      approvals: { where: { revision }, orderBy: { createdAt: "asc" }, include: { staff: { select: { email: true } } } },
      notes: { orderBy: { createdAt: "asc" }, include: { staff: { select: { email: true } } } },
    },
  });
  if (!row) return null;
  const staffIds = await db.auditEvent.findMany({ where: { requestId, actorType: "staff" }, select: { actorId: true }, distinct: ["actorId"] });
  const staff = await db.staff.findMany({ where: { id: { in: staffIds.flatMap((s) => (s.actorId ? [s.actorId] : [])) } }, select: { id: true, email: true } });
  return {
    applicantEmail: row.applicant.email,
    addresses: row.applicant.addresses.map((a) => ({ address: a.address, confirmed: a.confirmedAt !== null })),
    approvals: row.approvals.map((a) => ({ staffId: a.staffId, staffEmail: a.staff.email, at: a.createdAt })),
    notes: row.notes.map((n) => ({ staffEmail: n.staff.email, body: n.body, at: n.createdAt })),
    actors: new Map(staff.map((s) => [s.id, s.email])),
  };
}
