import { randomUUID } from "node:crypto";
import type { Tx } from "../db/client.ts";

/** One certification a signing result brought back, as checked by the import. */
export interface ReturnedCertification {
  userId: string;
  certification: Uint8Array;
  revocation: Uint8Array;
  certifiedAt: Date;
}

/**
 * Stores the certifications one batch item brought back, each with its sealed revocation and
 * the master that made it. `revokedAt` publishes the sealed revocations at once (a request
 * revoked while its batch was out).
 */
export async function storeCertifications(tx: Tx, input: { requestId: string; batch: number; master: string; entries: readonly ReturnedCertification[]; revokedAt?: Date }): Promise<void> {
  for (const entry of input.entries) {
    const sealed = new Uint8Array(entry.revocation);
    await tx.certification.create({
      data: {
        id: randomUUID(),
        requestId: input.requestId,
        batchNumber: input.batch,
        userId: entry.userId,
        signature: new Uint8Array(entry.certification),
        sealedRevocation: sealed,
        certifiedAt: entry.certifiedAt,
        masterFingerprint: input.master.toUpperCase(),
        ...(input.revokedAt ? { revocation: sealed, revokedAt: input.revokedAt } : {}),
      },
    });
  }
}
