/**
 * A batch of revocations for a master that is not the current one (docs/master-rotation.md):
 * a certification made by the old master without a sealed revocation can only be revoked by
 * that master, so its revoke item goes into a batch naming it. The import checks the result
 * against that master and publishes the other masters' sealed revocations with it.
 */
import { randomUUID } from "node:crypto";
import { formatFingerprint } from "../core/key-policy.ts";
import { findMaster } from "../core/master-keys.ts";
import { sealEnvelope, sha256Hex, signDetached } from "../core/transfer/envelope.ts";
import { encodePayload } from "../core/transfer/formats.ts";
import { ConflictError } from "../errors.ts";
import { appendAuditEvent } from "../repositories/audit.ts";
import { readMasterKeys } from "../repositories/master-keys.ts";
import { readSettings } from "../repositories/settings.ts";
import { nextBatchNumber, queuedRevocations } from "../repositories/signing-queue.ts";
import type { QueueKey } from "../storage/queue-key.ts";
import { batchPayload, exportPrerequisites, revokeItem, type BatchHeader } from "./batch-export.ts";
import type { ServiceContext, StaffActor } from "./context.ts";
import { revocationsForMaster } from "./master-rotation.ts";
import { staleError } from "./request-transitions.ts";

const DAY_MS = 86_400_000;

export async function exportRevocationsForMaster(ctx: ServiceContext, queueKey: QueueKey, staff: StaffActor, fingerprint: string): Promise<{ number: number; items: number }> {
  const { db, config } = ctx;
  const now = new Date(Math.floor(ctx.now().getTime() / 1000) * 1000);
  const master = findMaster(await readMasterKeys(db), fingerprint);
  if (!master || master.role === "current") {
    throw new ConflictError("Revocations for the current master go into the normal batch (Export batch). Reload the page.", "KEYSIGN_ERR_REVOCATION_MASTER");
  }
  const settings = await readSettings(db);
  const unset = exportPrerequisites(settings, config.PUBLIC_URL);
  if (unset !== null) throw new ConflictError(unset, "KEYSIGN_ERR_EXPORT_SETTINGS");
  const revocations = revocationsForMaster(await queuedRevocations(db), master.fingerprint);
  if (revocations.length === 0) throw new ConflictError(`No revocation waits for master ${formatFingerprint(master.fingerprint)}, so no batch was made.`, "KEYSIGN_ERR_QUEUE_EMPTY");
  return db.$transaction(async (tx) => {
    const number = await nextBatchNumber(tx);
    const expiresAt = new Date(now.getTime() + config.BATCH_EXPIRY_DAYS * DAY_MS);
    const header: BatchHeader = { number, portal: config.PUBLIC_URL, createdAt: now, expiresAt, queueKeyFingerprint: queueKey.fingerprint, settings: { ...settings, masterFingerprint: master.fingerprint } };
    const items = revocations.map((revocation) => ({ item: revokeItem(randomUUID(), revocation, header), revocationId: revocation.id }));
    const payload = encodePayload(batchPayload(header, items.map((entry) => entry.item)));
    const file = sealEnvelope("batch", payload, await signDetached(payload, queueKey.privateKey, now));
    const sha256 = sha256Hex(file);
    await tx.batch.create({ data: { number, state: "exported", createdAt: now, expiresAt, createdById: staff.id, file: new Uint8Array(file), sha256 } });
    for (const { item, revocationId } of items) {
      await tx.batchItem.create({ data: { id: item.id, batchNumber: number, requestId: item.requestId, kind: item.kind, revocationId } });
      const moved = await tx.revocation.updateMany({ where: { id: revocationId, state: "queued" }, data: { state: "exported" } });
      if (moved.count !== 1) throw staleError();
    }
    const data = { batch: number, sha256, items: items.length, master: master.fingerprint, expiresAt: expiresAt.toISOString() };
    await appendAuditEvent(tx, { actorType: "staff", actorId: staff.id, ip: staff.ip, action: "batch.export", data }, now);
    return { number, items: items.length };
  });
}
