import type { Db } from "../db/client.ts";

/** Every stored agreement file a row names, so the start-up sweep keeps exactly those. */
export async function agreementStorageNames(db: Db): Promise<Set<string>> {
  const rows = await db.agreement.findMany({ select: { storageName: true } });
  return new Set(rows.map((row) => row.storageName));
}

/** One agreement of one request (an id from another request is not found), with what serving it needs. */
export async function findAgreementOf(db: Db, requestId: string, agreementId: string): Promise<{ revision: number; storageName: string } | null> {
  return db.agreement.findFirst({ where: { id: agreementId, requestId }, select: { revision: true, storageName: true } });
}
