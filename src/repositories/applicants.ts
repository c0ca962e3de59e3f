import type { Db, Tx } from "../db/client.ts";

export interface AddressRow {
  address: string;
  confirmedAt: Date | null;
  primary: boolean;
}

export async function listAddresses(db: Db | Tx, applicantId: string): Promise<AddressRow[]> {
  const applicant = await db.applicant.findUniqueOrThrow({
    where: { id: applicantId },
    include: { addresses: { orderBy: { createdAt: "asc" } } },
  });
  return applicant.addresses.map((row) => ({ address: row.address, confirmedAt: row.confirmedAt, primary: row.address === applicant.email }));
}
