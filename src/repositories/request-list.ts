/**
 * The staff request list: one page of requests with what each row shows (approvals so far and
 * the facts behind its warnings). Every query is bounded by the page: the rows' own columns
 * (never a key's bytes) and a few lookups keyed by the page's ids and fingerprints.
 */
import { isRequestState, type RequestState } from "../core/request-lifecycle.ts";
import { OPEN_REQUEST_STATES } from "../core/submission.ts";
import type { Db } from "../db/client.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import { certificationExpiresAt, parseStrings } from "./requests.ts";
import { fingerprintQuery, WAITING_FOR_REVIEW } from "./review.ts";

export const REQUEST_LIST_PAGE_SIZE = 25;

export interface StaffListViewer {
  id: string;
  email: string;
}

export interface StaffListFilter {
  /** "mine": waiting for review, not the viewer's own, and not approved by the viewer in its current revision. */
  show: "mine" | "all";
  state?: RequestState;
  /** A fingerprint (16 or more hex digits, spaces allowed), an email address or a name. */
  query?: string;
  page: number;
}

export interface StaffListItem {
  id: string;
  state: RequestState;
  applicantEmail: string;
  fingerprint: string;
  userIds: string[];
  updatedAt: Date;
  certificationExpiresAt: Date | null;
  /** Approvals of the current revision. */
  approvals: number;
  /** A renewal, measured against the renewal quorum. */
  renewal: boolean;
  keyExpiresAt: Date | null;
  rsaBits: number | null;
  revokedBefore: boolean;
  otherOpenRequests: number;
}

/** Oldest waiting first: the request whose state has not moved for longest leads. */
export async function listStaffRequests(db: Db, filter: StaffListFilter, viewer: StaffListViewer): Promise<{ items: StaffListItem[]; total: number }> {
  const where = filter.show === "mine" ? { AND: [await needsApprovalWhere(db, viewer), searchWhere({ ...filter, state: undefined })] } : searchWhere(filter);
  const [total, rows] = await Promise.all([
    db.request.count({ where }),
    db.request.findMany({
      where,
      orderBy: [{ updatedAt: "asc" }, { id: "asc" }],
      skip: (filter.page - 1) * REQUEST_LIST_PAGE_SIZE,
      take: REQUEST_LIST_PAGE_SIZE,
      select: {
        id: true,
        state: true,
        updatedAt: true,
        renewsRequestId: true,
        applicant: { select: { email: true } },
        keys: { orderBy: { revision: "desc" }, take: 1, select: { revision: true, fingerprint: true, certifyUserIds: true, keyExpiresAt: true, facts: true } },
        approvals: { select: { revision: true } },
        certifications: { select: { signature: true } },
      },
    }),
  ]);
  const fingerprints = [...new Set(rows.flatMap((row) => (row.keys[0] ? [row.keys[0].fingerprint] : [])))];
  const [revoked, open] = await Promise.all([revokedKeyRequests(db, fingerprints), openKeyRequests(db, fingerprints)]);
  const items = rows.map((row): StaffListItem => {
    const key = row.keys[0];
    const fingerprint = key?.fingerprint ?? "";
    const others = (byKey: Map<string, Set<string>>) => [...(byKey.get(fingerprint) ?? [])].filter((id) => id !== row.id).length;
    return {
      id: row.id,
      state: isRequestState(row.state) ? row.state : "submitted",
      applicantEmail: row.applicant.email,
      fingerprint,
      userIds: parseStrings(key?.certifyUserIds ?? "[]"),
      updatedAt: row.updatedAt,
      certificationExpiresAt: certificationExpiresAt(row.certifications),
      approvals: row.approvals.filter((a) => a.revision === key?.revision).length,
      renewal: row.renewsRequestId !== null,
      keyExpiresAt: key?.keyExpiresAt ?? null,
      rsaBits: key ? rsaBitsOf(key.facts) : null,
      revokedBefore: others(revoked) > 0,
      otherOpenRequests: isOpen(row.state) ? others(open) : 0,
    };
  });
  return { total, items };
}

/** How many requests wait for the viewer's approval, for the filter's label. */
export async function countNeedingApproval(db: Db, viewer: StaffListViewer): Promise<number> {
  return db.request.count({ where: await needsApprovalWhere(db, viewer) });
}

/**
 * Waiting for review, minus the viewer's own requests (nobody approves those) and minus those
 * the viewer approved in their current revision. A revision needs fresh approvals, so an
 * approval of an older revision does not count; only the viewer's approvals of waiting
 * requests are read to tell them apart.
 */
async function needsApprovalWhere(db: Db, viewer: StaffListViewer): Promise<Prisma.RequestWhereInput> {
  const approved = await db.approval.findMany({
    where: { staffId: viewer.id, request: { state: { in: WAITING_FOR_REVIEW } } },
    select: { requestId: true, revision: true, request: { select: { keys: { orderBy: { revision: "desc" }, take: 1, select: { revision: true } } } } },
  });
  const current = approved.filter((a) => a.revision === a.request.keys[0]?.revision).map((a) => a.requestId);
  return {
    state: { in: WAITING_FOR_REVIEW },
    id: { notIn: current },
    NOT: { applicant: { addresses: { some: { address: viewer.email.toLowerCase(), confirmedAt: { not: null } } } } },
  };
}

function searchWhere(filter: StaffListFilter): Prisma.RequestWhereInput {
  const where: Prisma.RequestWhereInput = filter.state ? { state: filter.state } : {};
  const query = filter.query?.trim();
  if (!query) return where;
  const hex = fingerprintQuery(query);
  if (hex) return { ...where, keys: { some: { fingerprint: { contains: hex } } } };
  return {
    ...where,
    OR: [
      { applicant: { addresses: { some: { address: { contains: query.toLowerCase() } } } } },
      { keys: { some: { certifyUserIds: { contains: query } } } },
    ],
  };
}

/** Requests, by the fingerprints of their keys, with an applied revocation (as the request page's history reads them). */
async function revokedKeyRequests(db: Db, fingerprints: string[]): Promise<Map<string, Set<string>>> {
  if (fingerprints.length === 0) return new Map();
  const rows = await db.revocation.findMany({
    where: { state: "applied", request: { keys: { some: { fingerprint: { in: fingerprints } } } } },
    select: { requestId: true, request: { select: { keys: { where: { fingerprint: { in: fingerprints } }, select: { fingerprint: true } } } } },
  });
  return group(rows.flatMap((row) => row.request.keys.map((key) => ({ fingerprint: key.fingerprint, requestId: row.requestId }))));
}

/** Open requests whose newest key has one of these fingerprints (a revision may have replaced an older key). */
async function openKeyRequests(db: Db, fingerprints: string[]): Promise<Map<string, Set<string>>> {
  if (fingerprints.length === 0) return new Map();
  const rows = await db.request.findMany({
    where: { state: { in: [...OPEN_REQUEST_STATES] }, keys: { some: { fingerprint: { in: fingerprints } } } },
    select: { id: true, keys: { orderBy: { revision: "desc" }, take: 1, select: { fingerprint: true } } },
  });
  return group(rows.flatMap((row) => (row.keys[0] ? [{ fingerprint: row.keys[0].fingerprint, requestId: row.id }] : [])));
}

function group(pairs: Array<{ fingerprint: string; requestId: string }>): Map<string, Set<string>> {
  const byKey = new Map<string, Set<string>>();
  for (const { fingerprint, requestId } of pairs) byKey.set(fingerprint, (byKey.get(fingerprint) ?? new Set()).add(requestId));
  return byKey;
}

function isOpen(state: string): boolean {
  return (OPEN_REQUEST_STATES as readonly string[]).includes(state);
}

/** The RSA modulus from the stored key facts (bounded JSON written at intake), or null for other algorithms. */
function rsaBitsOf(factsJson: string): number | null {
  const parsed: unknown = JSON.parse(factsJson);
  if (!parsed || typeof parsed !== "object" || !("facts" in parsed)) return null;
  const facts: unknown = parsed.facts;
  if (!facts || typeof facts !== "object" || !("algorithmId" in facts) || !("bits" in facts)) return null;
  return facts.algorithmId === "rsa" && typeof facts.bits === "number" ? facts.bits : null;
}
