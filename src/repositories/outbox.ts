import { randomUUID } from "node:crypto";
import type { Db, Tx } from "../db/client.ts";
import type { RenderedEmail } from "../services/mail-templates.ts";

export type OutboxStatus = "pending" | "sending" | "sent" | "failed" | "expired";

/** A file sent with an email. The name and type are ours, never text from a user or an upload. */
export interface MailAttachment {
  filename: string;
  contentType: string;
  content: Uint8Array;
}

export interface OutboxRow {
  id: string;
  template: string;
  recipient: string;
  subject: string;
  html: string;
  text: string;
  messageId: string;
  attempts: number;
  expiresAt: Date | null;
  attachments: MailAttachment[];
}

const SAFE_FILENAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const SAFE_CONTENT_TYPE = /^[a-z]+\/[a-z0-9.+-]+$/;

/** Written inside the caller's transaction: the email exists exactly when the change does. */
export async function enqueueEmail(
  tx: Tx,
  email: RenderedEmail & { recipient: string; expiresAt?: Date; attachments?: readonly MailAttachment[] },
  messageIdDomain: string,
  now: Date,
): Promise<string> {
  const id = randomUUID();
  const attachments = (email.attachments ?? []).map((attachment) => {
    // Both end up in MIME headers: a programming error here must not become a header injection.
    if (!SAFE_FILENAME.test(attachment.filename) || !SAFE_CONTENT_TYPE.test(attachment.contentType)) {
      throw new Error("attachment filename or content type is not one of ours");
    }
    return { filename: attachment.filename, contentType: attachment.contentType, content: Buffer.from(attachment.content).toString("base64") };
  });
  await tx.outboxEmail.create({
    data: {
      id,
      template: email.template,
      recipient: email.recipient,
      subject: email.subject,
      html: email.html,
      text: email.text,
      messageId: `<${id}@${messageIdDomain}>`,
      expiresAt: email.expiresAt ?? null,
      attachments: JSON.stringify(attachments),
      nextAttemptAt: now,
      createdAt: now,
    },
  });
  return id;
}

/**
 * Claims a due email for delivery. The conditional update makes the claim atomic, so two
 * workers never both send it; the lease returns it to the queue if this process dies mid-send.
 * A row that changed since it was read (claimed elsewhere, or woken) is skipped; a few fresh
 * reads follow before giving up, and the caller's next pass finds whatever is still due.
 */
export async function claimDueEmail(db: Db, now: Date, leaseMs: number): Promise<OutboxRow | null> {
  for (let read = 0; read < 3; read++) {
    const due = await db.outboxEmail.findMany({
      where: { status: { in: ["pending", "sending"] }, nextAttemptAt: { lte: now } },
      orderBy: { nextAttemptAt: "asc" },
      take: 5,
    });
    if (due.length === 0) return null;
    for (const row of due) {
      const claimed = await db.outboxEmail.updateMany({
        where: { id: row.id, status: row.status, nextAttemptAt: row.nextAttemptAt },
        data: { status: "sending", nextAttemptAt: new Date(now.getTime() + leaseMs) },
      });
      if (claimed.count === 1) return { ...row, attachments: parseAttachments(row.attachments) };
    }
  }
  return null;
}

/** Gives back a claimed email whose send was interrupted by shutdown: due again at once, no attempt counted. */
export async function releaseEmail(db: Db, id: string, now: Date): Promise<void> {
  await db.outboxEmail.updateMany({ where: { id, status: "sending" }, data: { status: "pending", nextAttemptAt: now } });
}

/**
 * Gives back every claimed email, for a worker starting up: with one mail worker per database,
 * a claim it did not make belongs to a process that died mid-send, and waiting out its lease
 * would only delay the email. Returns how many were released.
 */
export async function releaseAllClaims(db: Db, now: Date): Promise<number> {
  const released = await db.outboxEmail.updateMany({ where: { status: "sending" }, data: { status: "pending", nextAttemptAt: now } });
  return released.count;
}

/**
 * Makes every email waiting out a backoff due now, but those in `except`: the server they
 * failed on answers again. Returns the ids it woke.
 */
export async function wakeWaitingEmails(db: Db, now: Date, except: ReadonlySet<string>): Promise<string[]> {
  const waiting = { status: "pending", attempts: { gt: 0 }, nextAttemptAt: { gt: now } };
  const rows = await db.outboxEmail.findMany({ where: { ...waiting, id: { notIn: [...except] } }, select: { id: true } });
  const ids = rows.map((row) => row.id);
  if (ids.length > 0) await db.outboxEmail.updateMany({ where: { ...waiting, id: { in: ids } }, data: { nextAttemptAt: now } });
  return ids;
}

function parseAttachments(stored: string): MailAttachment[] {
  const parsed: unknown = JSON.parse(stored);
  if (!Array.isArray(parsed)) return [];
  return parsed.flatMap((entry: unknown) => {
    if (typeof entry !== "object" || entry === null) return [];
    const { filename, contentType, content } = entry as Record<string, unknown>;
    if (typeof filename !== "string" || typeof contentType !== "string" || typeof content !== "string") return [];
    return [{ filename, contentType, content: Buffer.from(content, "base64") }];
  });
}

export async function markEmail(
  db: Db,
  id: string,
  outcome:
    | { status: "sent"; at: Date; scrub: boolean }
    | { status: "expired"; scrub: boolean }
    | { status: "pending"; attempts: number; retryAt: Date; error: string }
    | { status: "failed"; attempts: number; error: string },
): Promise<void> {
  const scrubbed = "scrub" in outcome && outcome.scrub ? { html: SCRUBBED, text: SCRUBBED } : {};
  switch (outcome.status) {
    case "sent":
      await db.outboxEmail.update({ where: { id }, data: { status: "sent", sentAt: outcome.at, lastError: null, ...scrubbed } });
      return;
    case "expired":
      await db.outboxEmail.update({ where: { id }, data: { status: "expired", ...scrubbed } });
      return;
    case "pending":
      await db.outboxEmail.update({
        where: { id },
        data: { status: "pending", attempts: outcome.attempts, nextAttemptAt: outcome.retryAt, lastError: outcome.error },
      });
      return;
    case "failed":
      await db.outboxEmail.update({
        where: { id },
        data: { status: "failed", attempts: outcome.attempts, lastError: outcome.error },
      });
  }
}

/** Bodies of handled sign-in and confirmation mail: their links must not outlive delivery. */
export const SCRUBBED = "[removed after delivery: this email held a one-time link]";

export async function countByStatus(db: Db): Promise<Record<string, number>> {
  const groups = await db.outboxEmail.groupBy({ by: ["status"], _count: { _all: true } });
  return Object.fromEntries(groups.map((g) => [g.status, g._count._all]));
}
