/**
 * What renewals and replacements read and write: the request a renewal copies, the request
 * that renews or replaces another, the superseding of the old certifications at import.
 */
import { certificationExpiry } from "../core/publication/key-status.ts";
import { isRequestState, type RequestState } from "../core/request-lifecycle.ts";
import type { Db, Tx } from "../db/client.ts";
import { NotFoundError } from "../errors.ts";
import { certificationExpiresAt, parseStrings } from "./requests.ts";

/** Requests that no longer count as renewing anything. */
const ENDED_STATES = ["withdrawn", "rejected"];

/** The owner's certified request as a renewal copies it: key, certified user IDs, agreement and declarations. */
export async function findRenewalSource(db: Db | Tx, requestId: string, applicantId: string) {
  const row = await db.request.findFirst({
    where: { id: requestId, applicantId },
    include: {
      keys: { orderBy: { revision: "desc" }, take: 1 },
      agreements: { orderBy: { revision: "desc" }, take: 1 },
      certifications: { select: { userId: true, signature: true, revokedAt: true, supersededAt: true } },
    },
  });
  const key = row?.keys[0];
  const agreement = row?.agreements[0];
  if (!row || !key || !agreement || !isRequestState(row.state)) throw new NotFoundError();
  const live = row.certifications.filter((c) => c.revokedAt === null);
  return {
    id: row.id,
    applicantId: row.applicantId,
    state: row.state,
    version: row.version,
    declarations: {
      licence: row.licence,
      projectUrls: row.projectUrls,
      attestOpenSource: row.attestOpenSource,
      attestNotCommercial: row.attestNotCommercial,
      attestAgreement: row.attestAgreement,
    },
    publishedUserIds: parseStrings(row.publishedUserIds),
    key: { fingerprint: key.fingerprint, canonicalKey: new Uint8Array(key.canonicalKey), certifyUserIds: parseStrings(key.certifyUserIds) },
    agreement,
    certifiedUserIds: [...new Set(live.map((c) => c.userId))],
    hasLiveCertification: live.length > 0,
    certificationExpiresAt: certificationExpiresAt(live.filter((c) => c.supersededAt === null)),
  };
}
export type RenewalSource = Awaited<ReturnType<typeof findRenewalSource>>;

/** The newest request that renews `requestId` and has not ended (withdrawn, rejected). */
export async function findRenewalOf(db: Db | Tx, requestId: string): Promise<{ id: string; state: RequestState } | null> {
  const row = await db.request.findFirst({ where: { renewsRequestId: requestId, state: { notIn: ENDED_STATES } }, orderBy: { createdAt: "desc" }, select: { id: true, state: true } });
  return row && isRequestState(row.state) ? { id: row.id, state: row.state } : null;
}

/** What a request renews or replaces, and the owner's choice for a replaced certification. */
export async function findRequestLinks(db: Db | Tx, requestId: string) {
  const row = await db.request.findUnique({ where: { id: requestId }, select: { renewsRequestId: true, replacesRequestId: true, replacedChoice: true } });
  if (!row) throw new NotFoundError();
  return row;
}

/**
 * Marks the renewed request's certifications of `userIds` as superseded: kept and published,
 * never revoked for it. Only those still in force; a revoked one stays revoked.
 */
export async function supersedeCertifications(tx: Tx, requestId: string, userIds: readonly string[], now: Date): Promise<number> {
  const { count } = await tx.certification.updateMany({ where: { requestId, userId: { in: [...userIds] }, supersededAt: null, revokedAt: null }, data: { supersededAt: now } });
  return count;
}

export interface KeyCertificationRecord {
  requestId: string;
  userId: string;
  certifiedAt: Date;
  expiresAt: Date | null;
  masterFingerprint: string;
  supersededAt: Date | null;
  revokedAt: Date | null;
}

/** Every certification the portal made of the key `fingerprint`, on any request, oldest first. */
export async function listKeyCertifications(db: Db, fingerprint: string): Promise<KeyCertificationRecord[]> {
  const rows = await db.certification.findMany({
    where: { request: { keys: { some: { fingerprint } } } },
    orderBy: [{ certifiedAt: "asc" }, { userId: "asc" }],
    select: { requestId: true, userId: true, certifiedAt: true, signature: true, masterFingerprint: true, supersededAt: true, revokedAt: true },
  });
  return rows.map(({ signature, ...row }) => ({ ...row, expiresAt: certificationExpiry(new Uint8Array(signature)) }));
}

/** The newest request that replaces `requestId`'s key and has not ended, with the owner's choice for this certification. */
export async function findReplacementOf(db: Db | Tx, requestId: string): Promise<{ id: string; choice: string | null } | null> {
  const row = await db.request.findFirst({ where: { replacesRequestId: requestId, state: { notIn: ENDED_STATES } }, orderBy: { createdAt: "desc" }, select: { id: true, replacedChoice: true } });
  return row ? { id: row.id, choice: row.replacedChoice } : null;
}

/** What a renewal renews: the key and user IDs of its first revision, copied from the certified request. */
export async function findRenewedKey(db: Db | Tx, requestId: string): Promise<{ fingerprint: string; certifyUserIds: string[] } | null> {
  const row = await db.request.findUnique({
    where: { id: requestId },
    select: { renewsRequestId: true, keys: { where: { revision: 1 }, select: { fingerprint: true, certifyUserIds: true } } },
  });
  const first = row?.keys[0];
  if (!row?.renewsRequestId || !first) return null;
  return { fingerprint: first.fingerprint, certifyUserIds: parseStrings(first.certifyUserIds) };
}
