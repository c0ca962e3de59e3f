import { requestCertificationExpiry } from "../core/expiry.ts";
import { isRequestState, type RequestState } from "../core/request-lifecycle.ts";
import type { KeyFacts, PolicyProblem } from "../core/key-policy.ts";
import { OPEN_REQUEST_STATES } from "../core/submission.ts";
import type { Db, Tx } from "../db/client.ts";
import { NotFoundError } from "../errors.ts";
import { listTimeline, type TimelineEntry } from "./audit.ts";

export interface RequestSummary {
  id: string;
  state: RequestState;
  fingerprint: string;
  userIds: string[];
  createdAt: Date;
  updatedAt: Date;
  /** When the master's certification lapses (null: not certified, or never). */
  certificationExpiresAt: Date | null;
}

export interface KeyRevision {
  revision: number;
  fingerprint: string;
  canonicalSha256: string;
  facts: KeyFacts;
  warnings: PolicyProblem[];
  certifyUserIds: string[];
  createdAt: Date;
}

export interface AgreementRevision {
  id: string;
  revision: number;
  fileName: string;
  sha256: string;
  size: number;
  storageName: string;
  signerFingerprint: string;
  createdAt: Date;
}

export interface RequestDetail {
  id: string;
  applicantId: string;
  state: RequestState;
  version: number;
  licence: string;
  projectUrls: string[];
  /** The certified user IDs the applicant agreed to publish. */
  publishedUserIds: string[];
  createdAt: Date;
  updatedAt: Date;
  /** When the master's certification lapses (null: not certified, or never). */
  certificationExpiresAt: Date | null;
  keys: KeyRevision[];
  agreements: AgreementRevision[];
  timeline: TimelineEntry[];
}

export async function listRequestsOf(db: Db, applicantId: string): Promise<RequestSummary[]> {
  const rows = await db.request.findMany({
    where: { applicantId },
    orderBy: { createdAt: "desc" },
    include: { keys: { orderBy: { revision: "desc" }, take: 1 }, certifications: { select: { signature: true } } },
  });
  return rows.map((row) => ({
    id: row.id,
    state: stateOf(row.state),
    fingerprint: row.keys[0]?.fingerprint ?? "",
    userIds: parseStrings(row.keys[0]?.certifyUserIds ?? "[]"),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    certificationExpiresAt: certificationExpiresAt(row.certifications),
  }));
}

/** When a request's certifications lapse, from their stored signatures. */
export function certificationExpiresAt(certifications: ReadonlyArray<{ signature: Uint8Array }>): Date | null {
  return requestCertificationExpiry(certifications.map((c) => new Uint8Array(c.signature)));
}

export async function loadRequestDetail(db: Db, id: string): Promise<RequestDetail | null> {
  const row = await db.request.findUnique({
    where: { id },
    include: { keys: { orderBy: { revision: "desc" } }, agreements: { orderBy: { revision: "desc" } }, certifications: { select: { signature: true } } },
  });
  if (!row) return null;
  return {
    id: row.id,
    applicantId: row.applicantId,
    state: stateOf(row.state),
    version: row.version,
    licence: row.licence,
    projectUrls: parseStrings(row.projectUrls),
    publishedUserIds: parseStrings(row.publishedUserIds),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    certificationExpiresAt: certificationExpiresAt(row.certifications),
    keys: row.keys.map((key) => {
      const stored = JSON.parse(key.facts) as { facts: KeyFacts; warnings: PolicyProblem[] };
      return {
        revision: key.revision,
        fingerprint: key.fingerprint,
        canonicalSha256: key.canonicalSha256,
        facts: reviveDates(stored.facts),
        warnings: stored.warnings,
        certifyUserIds: parseStrings(key.certifyUserIds),
        createdAt: key.createdAt,
      };
    }),
    agreements: row.agreements.map((a) => ({
      id: a.id,
      revision: a.revision,
      fileName: a.fileName,
      sha256: a.sha256,
      size: a.size,
      storageName: a.storageName,
      signerFingerprint: a.signerFingerprint,
      createdAt: a.createdAt,
    })),
    timeline: await listTimeline(db, id),
  };
}

export interface OwnedRequest {
  id: string;
  state: RequestState;
  /** The newest key/agreement revision number. */
  revision: number;
  latestAgreement: { storageName: string; fileName: string } | null;
}

/** The request if `applicantId` owns it; anybody else is told it does not exist. */
export async function findOwnedRequest(db: Db, id: string, applicantId: string): Promise<OwnedRequest> {
  const row = await db.request.findFirst({
    where: { id, applicantId },
    include: {
      agreements: { orderBy: { revision: "desc" }, take: 1, select: { storageName: true, fileName: true } },
      keys: { orderBy: { revision: "desc" }, take: 1, select: { revision: true } },
    },
  });
  if (!row) throw new NotFoundError();
  return { id: row.id, state: stateOf(row.state), revision: row.keys[0]?.revision ?? 0, latestAgreement: row.agreements[0] ?? null };
}

function stateOf(value: string): RequestState {
  if (!isRequestState(value)) throw new Error(`unknown request state in database: ${value}`);
  return value;
}

export function parseStrings(text: string): string[] {
  const parsed: unknown = JSON.parse(text);
  return Array.isArray(parsed) ? parsed.filter((v): v is string => typeof v === "string") : [];
}

function reviveDates(facts: KeyFacts): KeyFacts {
  return {
    ...facts,
    createdAt: new Date(facts.createdAt),
    expiresAt: facts.expiresAt ? new Date(facts.expiresAt) : null,
    subkeys: facts.subkeys.map((s) => ({ ...s, createdAt: new Date(s.createdAt), expiresAt: s.expiresAt ? new Date(s.expiresAt) : null })),
  };
}

export interface OpenRequest {
  id: string;
  applicantId: string;
  state: RequestState;
}

/** The open request whose current key is `fingerprint`, other than `exceptId`, if any. */
export async function findOpenRequestForKey(db: Db | Tx, fingerprint: string, exceptId: string | null): Promise<OpenRequest | null> {
  const rows = await db.request.findMany({
    where: { state: { in: [...OPEN_REQUEST_STATES] }, keys: { some: { fingerprint } }, ...(exceptId ? { id: { not: exceptId } } : {}) },
    select: { id: true, applicantId: true, state: true, keys: { orderBy: { revision: "desc" }, take: 1, select: { fingerprint: true } } },
    orderBy: { createdAt: "asc" },
  });
  // A revision may have replaced the key: only a request's newest key counts.
  const row = rows.find((r) => r.keys[0]?.fingerprint === fingerprint);
  return row ? { id: row.id, applicantId: row.applicantId, state: stateOf(row.state) } : null;
}

export async function countOpenRequestsOf(db: Db | Tx, applicantId: string): Promise<number> {
  return db.request.count({ where: { applicantId, state: { in: [...OPEN_REQUEST_STATES] } } });
}

export interface FormTokenRow {
  applicantId: string;
  expiresAt: Date;
  usedAt: Date | null;
  requestId: string | null;
}

/** Outstanding unused tokens kept per applicant; opening the form more often drops the oldest. */
const FORM_TOKENS_KEPT = 20;
/** A used token is kept this long after it expired, so a late replay still finds its request. */
const USED_TOKEN_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

/** Stores a new form token's hash, and drops this applicant's stale and surplus ones. */
export async function issueFormToken(db: Db, row: { tokenHash: string; applicantId: string; createdAt: Date; expiresAt: Date; replacesRequestId?: string }): Promise<void> {
  await db.$transaction(async (tx) => {
    const { applicantId, createdAt } = row;
    await tx.requestFormToken.deleteMany({
      where: {
        applicantId,
        OR: [{ usedAt: null, expiresAt: { lt: createdAt } }, { expiresAt: { lt: new Date(createdAt.getTime() - USED_TOKEN_RETENTION_MS) } }],
      },
    });
    const surplus = await tx.requestFormToken.findMany({ where: { applicantId, usedAt: null }, orderBy: { createdAt: "desc" }, skip: FORM_TOKENS_KEPT - 1, select: { tokenHash: true } });
    if (surplus.length > 0) await tx.requestFormToken.deleteMany({ where: { tokenHash: { in: surplus.map((s) => s.tokenHash) } } });
    await tx.requestFormToken.create({ data: row });
  });
}

export async function findFormToken(db: Db | Tx, tokenHash: string): Promise<FormTokenRow | null> {
  return db.requestFormToken.findUnique({ where: { tokenHash }, select: { applicantId: true, expiresAt: true, usedAt: true, requestId: true } });
}

/** Marks the token used by `requestId`; false when it was already used, expired or is not the applicant's. */
export async function consumeFormToken(tx: Tx, tokenHash: string, applicantId: string, requestId: string, now: Date): Promise<boolean> {
  const { count } = await tx.requestFormToken.updateMany({
    where: { tokenHash, applicantId, usedAt: null, expiresAt: { gt: now } },
    data: { usedAt: now, requestId },
  });
  return count === 1;
}

/** Approvals of the request's current revision: earlier revisions' approvals never count. */
export async function countCurrentApprovals(db: Db, requestId: string, revision: number): Promise<number> {
  return db.approval.count({ where: { requestId, revision } });
}
