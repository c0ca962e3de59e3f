import type { Db, Tx } from "../db/client.ts";
import { certificationExpiresAt } from "./requests.ts";

/** Requests waiting for a batch, each with its current key, agreement and the approvals of that revision. */
export async function queuedRequests(db: Db | Tx) {
  const requests = await db.request.findMany({
    where: { state: "queued" },
    orderBy: { updatedAt: "asc" },
    select: {
      id: true,
      version: true,
      updatedAt: true,
      applicant: { select: { email: true } },
      renewsRequestId: true,
      keys: { orderBy: { revision: "desc" }, take: 1 },
      agreements: { orderBy: { revision: "desc" }, take: 1, select: { sha256: true } },
      approvals: { orderBy: { createdAt: "asc" }, select: { revision: true, createdAt: true, staff: { select: { email: true } } } },
    },
  });
  const renewed = await renewedRequests(db, requests.flatMap((request) => (request.renewsRequestId ? [request.renewsRequestId] : [])));
  return requests.flatMap((request) => {
    const [key] = request.keys;
    if (!key) return [];
    const approvals = request.approvals.filter((approval) => approval.revision === key.revision).map((approval) => ({ staff: approval.staff.email, at: approval.createdAt }));
    return [{ id: request.id, version: request.version, queuedAt: request.updatedAt, applicantEmail: request.applicant.email, key, agreementSha256: request.agreements[0]?.sha256 ?? "", approvals, renews: renewed.get(request.renewsRequestId ?? "") ?? null }];
  });
}

/** For each renewed request among `ids`: its id and when its certification lapses, as the renewal item tells the officer. */
async function renewedRequests(db: Db | Tx, ids: string[]): Promise<Map<string, { requestId: string; expiresAt: Date | null }>> {
  if (ids.length === 0) return new Map();
  const rows = await db.request.findMany({ where: { id: { in: ids } }, select: { id: true, certifications: { where: { supersededAt: null, revokedAt: null }, select: { signature: true } } } });
  return new Map(rows.map((row) => [row.id, { requestId: row.id, expiresAt: certificationExpiresAt(row.certifications) }]));
}
export type QueuedRequest = Awaited<ReturnType<typeof queuedRequests>>[number];

/** Revocations approved by the quorum that need the master key because no sealed revocation exists. */
export async function queuedRevocations(db: Db | Tx) {
  const revocations = await db.revocation.findMany({
    where: { state: "queued" },
    orderBy: { createdAt: "asc" },
    select: {
      id: true,
      requestId: true,
      reasonCode: true,
      reasonText: true,
      createdAt: true,
      approvals: { orderBy: { createdAt: "asc" }, select: { createdAt: true, staff: { select: { email: true } } } },
      request: { select: { applicant: { select: { email: true } }, keys: { orderBy: { revision: "desc" }, take: 1 }, certifications: { where: { revokedAt: null }, orderBy: { userId: "asc" } } } },
    },
  });
  return revocations.flatMap((revocation) => {
    const [key] = revocation.request.keys;
    if (!key || revocation.request.certifications.length === 0) return [];
    const approvals = revocation.approvals.map((approval) => ({ staff: approval.staff.email, at: approval.createdAt }));
    return [{ ...revocation, applicantEmail: revocation.request.applicant.email, key, certifications: revocation.request.certifications, approvals }];
  });
}
export type QueuedRevocation = Awaited<ReturnType<typeof queuedRevocations>>[number];

export async function nextBatchNumber(tx: Tx): Promise<number> {
  const last = await tx.batch.findFirst({ orderBy: { number: "desc" }, select: { number: true } });
  return (last?.number ?? 0) + 1;
}

export async function listBatches(db: Db, take = 20) {
  return db.batch.findMany({
    orderBy: { number: "desc" },
    take,
    select: { number: true, state: true, createdAt: true, expiresAt: true, sha256: true, importedAt: true, cancelledAt: true, _count: { select: { items: true } } },
  });
}

export async function findBatch(db: Db | Tx, number: number) {
  return db.batch.findUnique({
    where: { number },
    include: {
      items: {
        orderBy: { id: "asc" },
        include: {
          request: { select: { id: true, state: true, applicant: { select: { email: true } }, keys: { orderBy: { revision: "desc" }, take: 1, select: { fingerprint: true, certifyUserIds: true } } } },
          revocation: { select: { reasonCode: true, reasonText: true } },
        },
      },
    },
  });
}
