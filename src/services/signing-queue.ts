import { randomUUID } from "node:crypto";
import { DEFAULT_KEY_POLICY, inspectKey } from "../core/key-policy.ts";
import { sealEnvelope, sha256Hex, signDetached } from "../core/transfer/envelope.ts";
import { encodePayload, type BatchItem } from "../core/transfer/formats.ts";
import { ConflictError, NotFoundError } from "../errors.ts";
import { appendAuditEvent } from "../repositories/audit.ts";
import { keyEndedApprovalMessage, keyEndingRevocation } from "../core/key-history.ts";
import { findKeyRevocationHistory, type PastRevocation } from "../repositories/revocations.ts";
import { readSettings } from "../repositories/settings.ts";
import { findBatch, listBatches, nextBatchNumber, queuedRequests, queuedRevocations, type QueuedRequest } from "../repositories/signing-queue.ts";
import type { QueueKey } from "../storage/queue-key.ts";
import { batchPayload, certifyItem, exportPrerequisites, revokeItem, type BatchHeader } from "./batch-export.ts";
import type { Actor, ServiceContext, StaffActor } from "./context.ts";
import { applyTransition, staleError } from "./request-transitions.ts";
import { importResult, type ImportOutcome } from "./result-import.ts";
import { Serial } from "./serial.ts";
import { exportRecertification, type RecertifyOutcome } from "./recertify-export.ts";
import { revocationsForMaster } from "./master-rotation.ts";
import { exportRevocationsForMaster } from "./master-revocation-export.ts";

const DAY_MS = 86_400_000;

export interface HeldRequest {
  requestId: string;
  reasons: string;
}

export interface ExportOutcome {
  number: number;
  sha256: string;
  items: number;
  /** Queued requests left out because their key no longer passes the policy. */
  held: HeldRequest[];
}

/**
 * The signing queue: approved work leaves as numbered batches signed by the queue key and
 * comes back as results signed by the master key. Exports, cancellations and imports run one
 * at a time (SECURITY.md: serialised), each as one transaction with its audit events.
 */
export class SigningQueueService {
  private readonly serial = new Serial();

  constructor(
    private readonly ctx: ServiceContext,
    readonly queueKey: QueueKey,
  ) {}

  async overview() {
    const [requests, revocations, batches, settings] = await Promise.all([queuedRequests(this.ctx.db), queuedRevocations(this.ctx.db), listBatches(this.ctx.db), readSettings(this.ctx.db)]);
    // What stops an export, said before the officer presses the button.
    // The revocations the next batch signs; those only another master can sign have their own block (docs/master-rotation.md).
    const forCurrent = revocationsForMaster(revocations, settings.masterFingerprint);
    return { requests, revocations: forCurrent, batches, exportBlocker: exportPrerequisites(settings, this.ctx.config.PUBLIC_URL) };
  }

  async batch(number: number) {
    const batch = await findBatch(this.ctx.db, number);
    if (!batch) throw new NotFoundError(`There is no batch ${number}.`);
    return batch;
  }

  exportBatch(staff: StaffActor): Promise<ExportOutcome> {
    return this.serial.run(() => this.exportNow(staff));
  }

  cancel(number: number, staff: StaffActor): Promise<void> {
    return this.serial.run(() => this.cancelNow(number, staff));
  }

  /** A master rotation's re-certification batch (recertify-export.ts), serialised with every other export. */
  exportRecertification(staff: StaffActor): Promise<RecertifyOutcome> {
    return this.serial.run(() => exportRecertification(this.ctx, this.queueKey, staff));
  }

  /** Revocations only the new or a retired master can sign (master-revocation-export.ts). */
  exportRevocationsForMaster(staff: StaffActor, fingerprint: string): Promise<{ number: number; items: number }> {
    return this.serial.run(() => exportRevocationsForMaster(this.ctx, this.queueKey, staff, fingerprint));
  }

  importResult(file: Uint8Array, staff: StaffActor): Promise<ImportOutcome> {
    return this.serial.run(() => importResult(this.ctx, this.queueKey, file, staff));
  }

  private async exportNow(staff: StaffActor): Promise<ExportOutcome> {
    const { db, config } = this.ctx;
    // OpenPGP times are whole seconds: a window starting mid-second would refuse a signature made in that second.
    const now = new Date(Math.floor(this.ctx.now().getTime() / 1000) * 1000);
    const settings = await readSettings(db);
    if (!settings.masterFingerprint) {
      throw new ConflictError("Set the master public key in Settings first: the signer and the import check every signature against it.", "KEYSIGN_ERR_NO_MASTER_KEY");
    }
    const unset = exportPrerequisites(settings, config.PUBLIC_URL);
    if (unset !== null) throw new ConflictError(unset, "KEYSIGN_ERR_EXPORT_SETTINGS");
    const queued = await queuedRequests(db);
    const histories = new Map(await Promise.all(queued.map(async (request) => [request.id, await findKeyRevocationHistory(db, request.key.fingerprint)] as const)));
    const { ready, held } = await this.recheckKeys(queued, histories, now);
    const revocations = revocationsForMaster(await queuedRevocations(db), settings.masterFingerprint);
    if (ready.length + revocations.length === 0) {
      const why = held.length > 0 ? ` ${held.length} queued request(s) stay in the queue because their key no longer passes the policy; ask for changes or reject them.` : "";
      throw new ConflictError(`Nothing is waiting for signing, so no batch was made.${why}`, "KEYSIGN_ERR_QUEUE_EMPTY");
    }
    const actor: Actor = { type: "staff", id: staff.id, ip: staff.ip };
    return db.$transaction(
      async (tx) => {
        const number = await nextBatchNumber(tx);
        const header: BatchHeader = {
          number,
          portal: config.PUBLIC_URL,
          createdAt: now,
          expiresAt: new Date(now.getTime() + config.BATCH_EXPIRY_DAYS * DAY_MS),
          queueKeyFingerprint: this.queueKey.fingerprint,
          settings,
        };
        const items: Array<{ item: BatchItem; revocationId: string | null; version: number | null }> = [
          ...ready.map((request) => ({ item: certifyItem(randomUUID(), request, header, histories.get(request.id) ?? []), revocationId: null, version: request.version })),
          ...revocations.map((revocation) => ({ item: revokeItem(randomUUID(), revocation, header), revocationId: revocation.id, version: null })),
        ];
        const payload = encodePayload(batchPayload(header, items.map((entry) => entry.item)));
        const file = sealEnvelope("batch", payload, await signDetached(payload, this.queueKey.privateKey, now));
        const sha256 = sha256Hex(file);
        await tx.batch.create({ data: { number, state: "exported", createdAt: now, expiresAt: header.expiresAt, createdById: staff.id, file: new Uint8Array(file), sha256 } });
        for (const { item, revocationId, version } of items) {
          await tx.batchItem.create({ data: { id: item.id, batchNumber: number, requestId: item.requestId, kind: item.kind, revocationId } });
          if (version !== null) {
            await applyTransition(tx, { requestId: item.requestId, event: "export", actor, expectedVersion: version, now, data: { batch: number } });
          } else if (revocationId !== null) {
            const moved = await tx.revocation.updateMany({ where: { id: revocationId, state: "queued" }, data: { state: "exported" } });
            if (moved.count !== 1) throw staleError();
          }
        }
        const data = { batch: number, sha256, items: items.length, expiresAt: header.expiresAt.toISOString(), held: held.map((h) => h.requestId) };
        await appendAuditEvent(tx, { actorType: "staff", actorId: staff.id, ip: staff.ip, action: "batch.export", data }, now);
        return { number, sha256, items: items.length, held };
      },
      { timeout: 120_000 },
    );
  }

  /**
   * SECURITY.md: the key is re-checked at export; one that expired or was revoked meanwhile
   * stays behind, and so does one whose certification was revoked for good (compromised,
   * malicious module) after this request was approved.
   */
  private async recheckKeys(requests: QueuedRequest[], histories: ReadonlyMap<string, PastRevocation[]>, now: Date): Promise<{ ready: QueuedRequest[]; held: HeldRequest[] }> {
    const ready: QueuedRequest[] = [];
    const held: HeldRequest[] = [];
    for (const request of requests) {
      const ended = keyEndingRevocation(histories.get(request.id) ?? []);
      const result = await inspectKey(request.key.canonicalKey, { ...DEFAULT_KEY_POLICY, minRsaBits: this.ctx.config.MIN_RSA_BITS, now });
      if (ended !== null) held.push({ requestId: request.id, reasons: keyEndedApprovalMessage(ended) });
      else if (result.ok) ready.push(request);
      else held.push({ requestId: request.id, reasons: result.problems.map((problem) => problem.message).join(" ") });
    }
    return { ready, held };
  }

  private async cancelNow(number: number, staff: StaffActor): Promise<void> {
    const now = this.ctx.now();
    await this.ctx.db.$transaction(async (tx) => {
      const batch = await findBatch(tx, number);
      if (!batch) throw new NotFoundError(`There is no batch ${number}.`);
      if (batch.state !== "exported") throw new ConflictError(`Batch ${number} is already ${batch.state}; there is nothing to cancel.`, "KEYSIGN_ERR_BATCH_STATE");
      if (now <= batch.expiresAt) {
        throw new ConflictError(
          `Batch ${number} can still be signed until ${batch.expiresAt.toISOString()}. Import its result, or cancel it once it has expired.`,
          "KEYSIGN_ERR_BATCH_NOT_EXPIRED",
        );
      }
      const cancelled = await tx.batch.updateMany({ where: { number, state: "exported" }, data: { state: "cancelled", cancelledAt: now } });
      if (cancelled.count !== 1) throw new ConflictError(`Batch ${number} changed meanwhile. Reload the page.`, "KEYSIGN_ERR_BATCH_STATE");
      const actor: Actor = { type: "staff", id: staff.id, ip: staff.ip };
      for (const item of batch.items) {
        if (item.kind === "certify" && item.request.state === "exported") {
          await applyTransition(tx, { requestId: item.requestId, event: "cancel_export", actor, now, data: { batch: number } });
        } else if (item.revocationId) {
          await tx.revocation.updateMany({ where: { id: item.revocationId, state: "exported" }, data: { state: "queued" } });
        }
      }
      await appendAuditEvent(tx, { actorType: "staff", actorId: staff.id, ip: staff.ip, action: "batch.cancel", data: { batch: number, items: batch.items.length } }, now);
    });
  }
}
