import { randomUUID } from "node:crypto";
import type { Db, Tx } from "../db/client.ts";

export type PushStatus = "pending" | "sending" | "sent" | "failed" | "superseded";

/** One published form of one key, to send to one keyserver. */
export interface PushTarget {
  keyserver: string;
  fingerprint: string;
  sha256: string;
}

export interface PushRow extends PushTarget {
  id: string;
  status: string;
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  createdAt: Date;
  sentAt: Date | null;
}

/** Every (keyserver, fingerprint, sha256) ever queued: what the worker need not queue again. */
export async function listPushTargets(db: Db): Promise<PushTarget[]> {
  return db.keyserverPush.findMany({ select: { keyserver: true, fingerprint: true, sha256: true } });
}

/**
 * Queues a published form for a keyserver unless it was queued before (the unique index makes
 * a second worker's insert fail, not repeat). Older forms of the key waiting or failed for that
 * keyserver are superseded: the published form only grows, so the new one carries all they had.
 * Returns whether a row was added.
 */
export async function queuePush(db: Db, target: PushTarget, now: Date): Promise<boolean> {
  try {
    await db.$transaction(async (tx) => {
      const { id } = await tx.keyserverPush.create({ data: { id: randomUUID(), ...target, nextAttemptAt: now, createdAt: now } });
      await tx.keyserverPush.updateMany({
        where: { keyserver: target.keyserver, fingerprint: target.fingerprint, status: { in: ["pending", "failed"] }, id: { not: id } },
        data: { status: "superseded" },
      });
    });
    return true;
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "P2002") return false;
    throw error;
  }
}

/**
 * Claims the keyserver's next due push. The conditional update makes the claim atomic; the
 * lease (in nextAttemptAt) returns the row to the queue if this process dies mid-push.
 */
export async function claimDuePush(db: Db, keyserver: string, now: Date, leaseMs: number): Promise<PushRow | null> {
  for (let read = 0; read < 3; read++) {
    const due = await db.keyserverPush.findMany({
      where: { keyserver, status: { in: ["pending", "sending"] }, nextAttemptAt: { lte: now } },
      orderBy: { nextAttemptAt: "asc" },
      take: 5,
    });
    if (due.length === 0) return null;
    for (const row of due) {
      const claimed = await db.keyserverPush.updateMany({
        where: { id: row.id, status: row.status, nextAttemptAt: row.nextAttemptAt },
        data: { status: "sending", nextAttemptAt: new Date(now.getTime() + leaseMs) },
      });
      if (claimed.count === 1) return row;
    }
  }
  return null;
}

/** Gives back a push interrupted by shutdown: due again at once, no attempt counted. */
export async function releasePush(db: Db, id: string, now: Date): Promise<void> {
  await db.keyserverPush.updateMany({ where: { id, status: "sending" }, data: { status: "pending", nextAttemptAt: now } });
}

/** Gives back every claimed push, for a worker starting up (one worker per database, as for mail). */
export async function releaseAllPushClaims(db: Db, now: Date): Promise<number> {
  const released = await db.keyserverPush.updateMany({ where: { status: "sending" }, data: { status: "pending", nextAttemptAt: now } });
  return released.count;
}

export type PushOutcome =
  | { status: "sent"; at: Date; attempts: number }
  | { status: "pending"; attempts: number; retryAt: Date; error: string }
  | { status: "failed"; attempts: number; error: string }
  | { status: "superseded" };

/** Records what became of a claimed push; only a row still claimed is changed. */
export async function markPush(db: Db, id: string, outcome: PushOutcome): Promise<void> {
  const data =
    outcome.status === "sent"
      ? { status: "sent", sentAt: outcome.at, attempts: outcome.attempts, lastError: null }
      : outcome.status === "pending"
        ? { status: "pending", attempts: outcome.attempts, nextAttemptAt: outcome.retryAt, lastError: outcome.error }
        : outcome.status === "failed"
          ? { status: "failed", attempts: outcome.attempts, lastError: outcome.error }
          : { status: "superseded" };
  await db.keyserverPush.updateMany({ where: { id, status: "sending" }, data });
}

/** How many pushes each keyserver has in each status. */
export async function countPushes(db: Db): Promise<Array<{ keyserver: string; status: string; count: number }>> {
  const groups = await db.keyserverPush.groupBy({ by: ["keyserver", "status"], _count: { _all: true } });
  return groups.map((group) => ({ keyserver: group.keyserver, status: group.status, count: group._count._all }));
}

/** The keyserver's newest pushes, newest first. */
export async function recentPushes(db: Db, keyserver: string, take: number): Promise<PushRow[]> {
  return db.keyserverPush.findMany({ where: { keyserver }, orderBy: [{ createdAt: "desc" }, { id: "asc" }], take });
}

export async function findPush(tx: Tx, id: string): Promise<PushRow | null> {
  return tx.keyserverPush.findUnique({ where: { id } });
}

/** Makes a push failed for good due now with a fresh set of attempts; false if it is no longer failed. */
export async function reopenFailedPush(tx: Tx, id: string, now: Date): Promise<boolean> {
  const reopened = await tx.keyserverPush.updateMany({ where: { id, status: "failed" }, data: { status: "pending", attempts: 0, nextAttemptAt: now } });
  return reopened.count === 1;
}
