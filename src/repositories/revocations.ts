import type { Db, Tx } from "../db/client.ts";

export interface CertificationSummary {
  userId: string;
  certifiedAt: Date;
  revokedAt: Date | null;
  /** Whether a sealed revocation is kept, so a revocation can be published without a ceremony. */
  sealed: boolean;
}

export interface RevocationSummary {
  id: string;
  state: string;
  reasonCode: string;
  reasonText: string;
  proposedBy: string;
  createdAt: Date;
  appliedAt: Date | null;
  approvals: Array<{ staffId: string; staffEmail: string; at: Date }>;
}

export interface RevocationView {
  certifications: CertificationSummary[];
  /** Newest first. */
  revocations: RevocationSummary[];
}

/** What the staff request page shows of a request's certifications and revocations. */
export async function loadRevocationView(db: Db, requestId: string): Promise<RevocationView> {
  const [certifications, revocations] = await Promise.all([
    db.certification.findMany({ where: { requestId }, orderBy: { userId: "asc" }, select: { userId: true, certifiedAt: true, revokedAt: true, sealedRevocation: true } }),
    db.revocation.findMany({
      where: { requestId },
      orderBy: { createdAt: "desc" },
      include: { proposedBy: { select: { email: true } }, approvals: { orderBy: { createdAt: "asc" }, include: { staff: { select: { email: true } } } } },
    }),
  ]);
  return {
    certifications: certifications.map((c) => ({ userId: c.userId, certifiedAt: c.certifiedAt, revokedAt: c.revokedAt, sealed: c.sealedRevocation !== null })),
    revocations: revocations.map((r) => ({
      id: r.id,
      state: r.state,
      reasonCode: r.reasonCode,
      reasonText: r.reasonText,
      proposedBy: r.proposedBy.email,
      createdAt: r.createdAt,
      appliedAt: r.appliedAt,
      approvals: r.approvals.map((a) => ({ staffId: a.staffId, staffEmail: a.staff.email, at: a.createdAt })),
    })),
  };
}

/** The revocation that revoked the request, for its owner's page. */
export async function findAppliedRevocation(db: Db, requestId: string): Promise<{ appliedAt: Date; reasonCode: string; reasonText: string } | null> {
  const row = await db.revocation.findFirst({ where: { requestId, state: "applied" }, orderBy: { appliedAt: "desc" }, select: { appliedAt: true, reasonCode: true, reasonText: true } });
  return row?.appliedAt ? { appliedAt: row.appliedAt, reasonCode: row.reasonCode, reasonText: row.reasonText } : null;
}

export interface PastRevocation {
  requestId: string;
  revokedAt: Date;
  reasonCode: string;
  reasonText: string;
}

/**
 * Every applied revocation of a certification of this key (by fingerprint), on any request,
 * oldest first: a key revoked once may come back in a new request.
 */
export async function findKeyRevocationHistory(db: Db | Tx, fingerprint: string): Promise<PastRevocation[]> {
  const rows = await db.revocation.findMany({
    where: { state: "applied", request: { keys: { some: { fingerprint } } } },
    orderBy: { appliedAt: "asc" },
    select: { requestId: true, appliedAt: true, reasonCode: true, reasonText: true },
  });
  return rows.flatMap((row) => (row.appliedAt ? [{ requestId: row.requestId, revokedAt: row.appliedAt, reasonCode: row.reasonCode, reasonText: row.reasonText }] : []));
}
