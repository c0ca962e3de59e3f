import { randomUUID } from "node:crypto";
import { requestCertificationExpiry, type CertifiedRequest } from "../core/expiry.ts";
import { parseRoles } from "../core/roles.ts";
import type { Db, Tx } from "../db/client.ts";

/**
 * Every request the master key certified, with its expiry, owner and whether it was revoked;
 * `currentCertifications` (src/core/expiry.ts) picks the one per key that counts.
 */
export async function findCertifiedRequests(db: Db): Promise<CertifiedRequest[]> {
  const rows = await db.request.findMany({
    where: { certifications: { some: {} } },
    select: {
      id: true,
      state: true,
      applicant: { select: { email: true } },
      keys: { orderBy: { revision: "desc" }, take: 1, select: { fingerprint: true } },
      certifications: { select: { signature: true, certifiedAt: true, revokedAt: true } },
    },
  });
  return rows.flatMap((row) => {
    const fingerprint = row.keys[0]?.fingerprint;
    if (!fingerprint) return [];
    return [{
      requestId: row.id,
      fingerprint,
      ownerEmail: row.applicant.email,
      certifiedAt: new Date(Math.max(...row.certifications.map((c) => c.certifiedAt.getTime()))),
      expiresAt: requestCertificationExpiry(row.certifications.map((c) => new Uint8Array(c.signature))),
      revoked: row.state === "revoked" || row.certifications.some((c) => c.revokedAt !== null),
    }];
  });
}

export interface ReminderRecord {
  kind: "certification" | "key";
  subject: string;
  expiresAt: Date;
  thresholdDays: number;
  recipient: string;
}

/**
 * Records a reminder inside the transaction that queues its email; false when it was already
 * recorded, and then the caller queues nothing. The unique index is the backstop: a second
 * writer's transaction fails and takes its email with it.
 */
export async function recordReminder(tx: Tx, reminder: ReminderRecord, now: Date): Promise<boolean> {
  const { kind, subject, expiresAt, thresholdDays } = reminder;
  const existing = await tx.expiryReminder.findUnique({ where: { kind_subject_expiresAt_thresholdDays: { kind, subject, expiresAt, thresholdDays } }, select: { id: true } });
  if (existing) return false;
  await tx.expiryReminder.create({ data: { id: randomUUID(), ...reminder, sentAt: now } });
  return true;
}

export async function readMark(db: Db | Tx, key: string): Promise<Date | null> {
  const row = await db.setting.findUnique({ where: { key } });
  const at = row ? new Date(row.value) : null;
  return at && !Number.isNaN(at.getTime()) ? at : null;
}

export async function writeMark(db: Db | Tx, key: string, at: Date): Promise<void> {
  const value = at.toISOString();
  await db.setting.upsert({ where: { key }, create: { key, value, updatedAt: at }, update: { value, updatedAt: at } });
}

/** Staff who get the expiry digest: enabled reviewers and admins. */
export async function findDigestRecipients(tx: Tx): Promise<string[]> {
  const staff = await tx.staff.findMany({ where: { disabledAt: null }, select: { email: true, roles: true } });
  return staff.filter((s) => parseRoles(s.roles).some((role) => role === "reviewer" || role === "admin")).map((s) => s.email);
}
