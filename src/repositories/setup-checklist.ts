import { parseRoles } from "../core/roles.ts";
import type { LastDelivery } from "../core/setup-checklist.ts";
import type { Db, Tx } from "../db/client.ts";

/** Reviewers who can approve today: not disabled, and signed in with a second factor at least once. */
export async function countActiveReviewers(db: Db): Promise<number> {
  const rows = await db.staff.findMany({ where: { disabledAt: null, totpEnrolledAt: { not: null } }, select: { roles: true } });
  return rows.filter((row) => parseRoles(row.roles).includes("reviewer")).length;
}

/**
 * The newest email the worker tried: delivered, or refused at least once (retrying or given
 * up). Rows keep no time of a failed attempt, so "newest" is by when the email was queued.
 */
export async function findLastDelivery(db: Db): Promise<LastDelivery> {
  const row = await db.outboxEmail.findFirst({
    where: { OR: [{ status: "sent" }, { lastError: { not: null } }] },
    orderBy: { createdAt: "desc" },
    select: { status: true, sentAt: true, attempts: true },
  });
  if (!row) return null;
  if (row.status === "sent") return { outcome: "sent", at: row.sentAt ?? new Date(0) };
  return { outcome: "failing", attempts: row.attempts };
}

/** A setting row of its own, outside the admin's settings form: whether an admin hid the checklist. */
const HIDDEN_KEY = "setupChecklistHidden";

export async function isChecklistHidden(db: Db): Promise<boolean> {
  return (await db.setting.findUnique({ where: { key: HIDDEN_KEY } }))?.value === "true";
}

export async function setChecklistHidden(tx: Tx, hidden: boolean, staffId: string, now: Date): Promise<void> {
  const value = String(hidden);
  await tx.setting.upsert({ where: { key: HIDDEN_KEY }, create: { key: HIDDEN_KEY, value, updatedAt: now, updatedBy: staffId }, update: { value, updatedAt: now, updatedBy: staffId } });
}
