import type { Db } from "../db/client.ts";

/** Every stored agreement file a row names, so the start-up sweep keeps exactly those. */
export async function agreementStorageNames(db: Db): Promise<Set<string>> {
  const rows = await db.agreement.findMany({ select: { storageName: true } });
  return new Set(rows.map((row) => row.storageName));
}
