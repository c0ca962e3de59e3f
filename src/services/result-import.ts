/**
 * Importing a signed result. Everything is verified before anything changes (SECURITY.md):
 * the result's signature by the master key, the batch it answers, and every returned signature
 * against what was approved. Then one transaction applies every item, or none.
 */
import { randomUUID } from "node:crypto";
import { readKey } from "openpgp";
import { inspectionConfig } from "../core/openpgp-config.ts";
import { openEnvelope } from "../core/transfer/envelope.ts";
import { parseBatchPayload, parseResultPayload, type BatchPayload } from "../core/transfer/formats.ts";
import { checkResult, type ResultProblem, type VerifiedOutcome } from "../core/transfer/result-check.ts";
import { TransferError } from "../core/transfer/transfer-error.ts";
import type { Tx } from "../db/client.ts";
import { ConflictError, KeysignError } from "../errors.ts";
import { appendAuditEvent } from "../repositories/audit.ts";
import { readSettings } from "../repositories/settings.ts";
import type { QueueKey } from "../storage/queue-key.ts";
import { queueCertifiedKeyEmails } from "./certified-delivery.ts";
import type { Actor, ServiceContext, StaffActor } from "./context.ts";
import { applyTransition } from "./request-transitions.ts";
import { applySignedRevocation } from "./revocations.ts";

export type ImportOutcome =
  | { kind: "imported"; batch: number; certified: number; declined: number; revoked: number }
  | { kind: "already_imported"; batch: number };

/** A result that fails verification: nothing was applied; `problems` names each item and rule. */
export class ImportRefusedError extends KeysignError {
  constructor(readonly problems: ResultProblem[]) {
    super("KEYSIGN_ERR_RESULT_REFUSED", `The result was refused and nothing was changed: ${problems.length} check(s) failed.`, 422);
  }
}

export async function importResult(ctx: ServiceContext, queueKey: QueueKey, file: Uint8Array, staff: StaffActor): Promise<ImportOutcome> {
  const now = ctx.now();
  const settings = await readSettings(ctx.db);
  if (!settings.masterPublicKey) {
    throw new ConflictError("Set the master public key in Settings first: results are checked against it.", "KEYSIGN_ERR_NO_MASTER_KEY");
  }
  const master = await readKey({ armoredKey: settings.masterPublicKey, config: inspectionConfig({ minRsaBits: 2048 }) });
  const opened = await openEnvelope(file, "result", master, "master key");
  const result = parseResultPayload(opened.payload);
  const batch = await ctx.db.batch.findUnique({ where: { number: result.batch } });
  if (!batch) throw new TransferError("KEYSIGN_ERR_UNKNOWN_BATCH", `The result answers batch ${result.batch}, which this portal never exported.`);
  if (batch.state === "imported") {
    if (batch.resultSha256 === opened.sha256) return { kind: "already_imported", batch: batch.number };
    throw new ConflictError(`Batch ${batch.number} was already imported from a different result file; this one was not applied.`, "KEYSIGN_ERR_BATCH_IMPORTED");
  }
  if (batch.state === "cancelled") throw new ConflictError(`Batch ${batch.number} was cancelled, so its result cannot be imported. Its items are back in the queue.`, "KEYSIGN_ERR_BATCH_CANCELLED");
  if (now > batch.expiresAt) {
    throw new ConflictError(`Batch ${batch.number} expired at ${batch.expiresAt.toISOString()}; its result is refused. Cancel the batch and export a new one.`, "KEYSIGN_ERR_BATCH_EXPIRED");
  }
  // Our own batch, re-verified: a database edit cannot change what the result is checked against.
  const exported = parseBatchPayload((await openEnvelope(batch.file, "batch", queueKey.publicKey, "queue key")).payload);
  const checked = await checkResult(result, { batch: exported, batchSha256: batch.sha256, master, now, config: inspectionConfig({ minRsaBits: 2048 }) });
  if (!checked.ok) throw new ImportRefusedError(checked.problems);

  const actor: Actor = { type: "staff", id: staff.id, ip: staff.ip };
  const outcome = await ctx.db.$transaction(
    async (tx) => {
      const claimed = await tx.batch.updateMany({
        where: { number: batch.number, state: "exported" },
        data: { state: "imported", result: new Uint8Array(file), resultSha256: opened.sha256, importedAt: now, importedById: staff.id },
      });
      if (claimed.count !== 1) throw new ConflictError(`Batch ${batch.number} was imported or cancelled meanwhile. Reload the page.`, "KEYSIGN_ERR_BATCH_STATE");
      const counts = { certified: 0, declined: 0, revoked: 0 };
      for (const verified of checked.outcomes) {
        await applyOutcome(tx, ctx, { verified, batch: exported, actor, now });
        counts[verified.kind] += 1;
      }
      await appendAuditEvent(tx, { actorType: "staff", actorId: staff.id, ip: staff.ip, action: "batch.import", data: { batch: batch.number, resultSha256: opened.sha256, ...counts } }, now);
      return { kind: "imported" as const, batch: batch.number, ...counts };
    },
    { timeout: 300_000 },
  );
  ctx.mailQueued();
  return outcome;
}

interface ApplyInput {
  verified: VerifiedOutcome;
  batch: BatchPayload;
  actor: Actor;
  now: Date;
}

async function applyOutcome(tx: Tx, ctx: ServiceContext, { verified, batch, actor, now }: ApplyInput): Promise<void> {
  const { item } = verified;
  const itemWhere = { id: item.id, batchNumber: batch.batch };
  if (verified.kind === "declined") {
    await tx.batchItem.update({ where: itemWhere, data: { outcome: "declined", declineReason: verified.reason } });
    if (item.kind === "certify") {
      await applyTransition(tx, { requestId: item.requestId, event: "decline", actor, now, data: { batch: batch.batch, reason: verified.reason } });
    } else {
      const row = await tx.batchItem.findUniqueOrThrow({ where: itemWhere, select: { revocationId: true } });
      await tx.revocation.updateMany({ where: { id: row.revocationId ?? "", state: "exported" }, data: { state: "declined" } });
      await appendAuditEvent(tx, { ...auditActor(actor), action: "revocation.declined", requestId: item.requestId, data: { batch: batch.batch, reason: verified.reason } }, now);
    }
    return;
  }
  if (verified.kind === "revoked") {
    const row = await tx.batchItem.update({ where: itemWhere, data: { outcome: "revoked" }, select: { revocationId: true } });
    await applySignedRevocation(tx, { revocationId: row.revocationId ?? "", revocations: verified.revocations, actor, config: ctx.config, now });
    return;
  }
  await tx.batchItem.update({ where: itemWhere, data: { outcome: "certified" } });
  for (const entry of verified.userIds) {
    await tx.certification.create({
      data: {
        id: randomUUID(),
        requestId: item.requestId,
        batchNumber: batch.batch,
        userId: entry.userId,
        signature: new Uint8Array(entry.certification),
        sealedRevocation: new Uint8Array(entry.revocation),
        certifiedAt: entry.certifiedAt,
      },
    });
  }
  await applyTransition(tx, { requestId: item.requestId, event: "certify", actor, now, data: { batch: batch.batch, userIds: verified.userIds.map((entry) => entry.userId) } });
  await queueCertifiedKeyEmails(tx, {
    requestId: item.requestId,
    fingerprint: item.fingerprint,
    canonicalKey: new Uint8Array(Buffer.from(item.key, "base64")),
    certifications: verified.userIds.map((entry) => ({ userId: entry.userId, certification: entry.certification })),
    config: ctx.config,
    now,
  });
}

function auditActor(actor: Actor) {
  return { actorType: actor.type, actorId: actor.id, ip: actor.ip };
}
