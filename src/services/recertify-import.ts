/**
 * Applying a re-certification item of a master rotation at import (docs/master-rotation.md):
 * the new master's certifications are stored beside the old ones and published with them.
 * The request's state does not change and nobody is emailed: the key is as certified as
 * before, now by two masters. One exception keeps revocations whole: a request revoked while
 * the batch was out gets its new certifications with their sealed revocations published at
 * once, so no install trusting only the new master sees a revoked key as valid.
 */
import { storeCertifications } from "../repositories/certifications.ts";
import type { BatchPayload } from "../core/transfer/formats.ts";
import type { VerifiedOutcome } from "../core/transfer/result-check.ts";
import type { Tx } from "../db/client.ts";
import { appendAuditEvent } from "../repositories/audit.ts";
import type { Actor } from "./context.ts";

interface RecertifyInput {
  verified: VerifiedOutcome;
  batch: BatchPayload;
  actor: Actor;
  now: Date;
}

export async function applyRecertifyOutcome(tx: Tx, { verified, batch, actor, now }: RecertifyInput): Promise<void> {
  const { item } = verified;
  const itemWhere = { id: item.id, batchNumber: batch.batch };
  const audit = { actorType: actor.type, actorId: actor.id, ip: actor.ip, requestId: item.requestId };
  if (verified.kind === "declined") {
    await tx.batchItem.update({ where: itemWhere, data: { outcome: "declined", declineReason: verified.reason } });
    await appendAuditEvent(tx, { ...audit, action: "master.recertify_declined", data: { batch: batch.batch, reason: verified.reason } }, now);
    return;
  }
  if (verified.kind !== "certified") return;
  await tx.batchItem.update({ where: itemWhere, data: { outcome: "certified" } });
  const request = await tx.request.findUniqueOrThrow({ where: { id: item.requestId }, select: { state: true } });
  const revokedMeanwhile = request.state !== "certified";
  await storeCertifications(tx, { requestId: item.requestId, batch: batch.batch, master: batch.master, entries: verified.userIds, ...(revokedMeanwhile ? { revokedAt: now } : {}) });
  const data = { batch: batch.batch, master: batch.master, userIds: verified.userIds.map((entry) => entry.userId), revokedMeanwhile };
  await appendAuditEvent(tx, { ...audit, action: "master.recertify", data }, now);
}
