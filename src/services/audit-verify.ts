import { verifyAuditChain, type ChainVerdict } from "../core/audit-chain.ts";
import type { Db } from "../db/client.ts";
import { listAuditChain } from "../repositories/audit.ts";

/** Checks the whole audit log; used by `keysign audit verify` and the admin audit page. */
export async function verifyAuditLog(db: Db): Promise<ChainVerdict> {
  return verifyAuditChain(await listAuditChain(db));
}

export function describeVerdict(verdict: ChainVerdict): string {
  if (verdict.ok) return `audit log intact: ${verdict.count} event(s), head ${verdict.head}`;
  const why = {
    hash_mismatch: "its contents do not match its hash (the row was edited)",
    prev_mismatch: "it does not link to the event before it (an earlier row was edited or replaced)",
    gap: "events before it are missing (rows were deleted)",
  }[verdict.reason];
  return `audit log BROKEN at event ${verdict.brokenAt}: ${why}`;
}
