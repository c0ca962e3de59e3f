import type { Db } from "../db/client.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import { WAITING_FOR_REVIEW } from "./review.ts";

export interface NextRequest {
  id: string;
  applicantEmail: string;
  fingerprint: string;
  /** When its state last moved: the list's "waiting" order. */
  updatedAt: Date;
}

/** Requests read per query while looking for one this reviewer has not approved yet. */
const BATCH = 50;

/**
 * The request a reviewer should open after a decision: the one waiting longest for review
 * (the request list's order) whose current revision they have not approved, leaving out the
 * one just decided and any they applied for themselves (they may not approve those).
 */
export async function findNextForReviewer(db: Db, reviewer: { id: string; email: string }, justDecided: string): Promise<NextRequest | null> {
  const where: Prisma.RequestWhereInput = {
    state: { in: WAITING_FOR_REVIEW },
    id: { not: justDecided },
    NOT: { applicant: { addresses: { some: { address: reviewer.email.toLowerCase(), confirmedAt: { not: null } } } } },
  };
  for (let skip = 0; ; skip += BATCH) {
    const rows = await db.request.findMany({
      where,
      orderBy: [{ updatedAt: "asc" }, { id: "asc" }],
      skip,
      take: BATCH,
      select: {
        id: true,
        updatedAt: true,
        applicant: { select: { email: true } },
        keys: { orderBy: { revision: "desc" }, take: 1, select: { revision: true, fingerprint: true } },
        approvals: { where: { staffId: reviewer.id }, select: { revision: true } },
      },
    });
    // Approvals count per revision: one of an earlier revision does not make this one done.
    const next = rows.find((row) => !row.approvals.some((a) => a.revision === row.keys[0]?.revision));
    if (next) return { id: next.id, applicantEmail: next.applicant.email, fingerprint: next.keys[0]?.fingerprint ?? "", updatedAt: next.updatedAt };
    if (rows.length < BATCH) return null;
  }
}
