import type { Db, Tx } from "../db/client.ts";
import type { KeyFacts } from "../core/key-policy.ts";
import { OPEN_REQUEST_STATES } from "../core/submission.ts";
import { parseStrings } from "./requests.ts";

/** A live request whose certified or pending user ID uses an address. */
export interface AddressUse {
  requestId: string;
  state: string;
  userId: string;
}

/** Requests still open or certified: their user IDs' addresses must stay on the account. */
const LIVE_STATES: readonly string[] = [...OPEN_REQUEST_STATES, "certified"];

/** Each address the applicant's live requests certify or are to certify, with the first request using it. */
export async function addressUsesOf(db: Db | Tx, applicantId: string): Promise<Map<string, AddressUse>> {
  const rows = await db.request.findMany({
    where: { applicantId, state: { in: [...LIVE_STATES] } },
    orderBy: { createdAt: "asc" },
    select: { id: true, state: true, keys: { orderBy: { revision: "desc" }, take: 1, select: { facts: true, certifyUserIds: true } } },
  });
  const uses = new Map<string, AddressUse>();
  for (const row of rows) {
    const key = row.keys[0];
    if (!key) continue;
    const { facts } = JSON.parse(key.facts) as { facts: Pick<KeyFacts, "userIds"> };
    for (const userId of parseStrings(key.certifyUserIds)) {
      const email = facts.userIds.find((uid) => uid.userId === userId)?.email;
      if (email && !uses.has(email)) uses.set(email, { requestId: row.id, state: row.state, userId });
    }
  }
  return uses;
}

export async function deleteAddress(tx: Tx, applicantId: string, address: string): Promise<boolean> {
  const deleted = await tx.emailAddress.deleteMany({ where: { applicantId, address } });
  return deleted.count > 0;
}

/** Unused confirmation links for a removed address stop working. */
export async function expireConfirmLinks(tx: Tx, applicantId: string, address: string, now: Date): Promise<void> {
  await tx.linkToken.updateMany({ where: { purpose: "confirm-address", applicantId, address, usedAt: null }, data: { usedAt: now } });
}
