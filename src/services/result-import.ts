/**
 * Importing a signed result. Everything is verified before anything changes (SECURITY.md):
 * the result's signature by the master key, the batch it answers, and every returned signature
 * against what was approved. Then one transaction applies every item, or none.
 */
import { readKey, type PublicKey } from "openpgp";
import { notifyApplicantOfRequest } from "./applicant-notices.ts";
import { inspectionConfig } from "../core/openpgp-config.ts";
import { openEnvelope, sha256Hex, type OpenedFile } from "../core/transfer/envelope.ts";
import { parseBatchPayload, parseResultPayload, type BatchPayload, type ResultPayload } from "../core/transfer/formats.ts";
import { checkResult, type ResultProblem, type VerifiedOutcome } from "../core/transfer/result-check.ts";
import { TransferError } from "../core/transfer/transfer-error.ts";
import type { Tx } from "../db/client.ts";
import { ConflictError, isKeysignError, KeysignError } from "../errors.ts";
import { appendAuditEvent } from "../repositories/audit.ts";
import { readSettings } from "../repositories/settings.ts";
import type { QueueKey } from "../storage/queue-key.ts";
import { queueCertifiedKeyEmails } from "./certified-delivery.ts";
import type { Actor, ServiceContext, StaffActor } from "./context.ts";
import { storeCertifications } from "../repositories/certifications.ts";
import { applyTransition } from "./request-transitions.ts";
import { applySignedRevocation } from "./revocations.ts";
import { completeRenewal } from "./renewals.ts";
import { batchMasterProblem, resultMaster } from "./master-rotation.ts";
import { applyRecertifyOutcome } from "./recertify-import.ts";

export type ImportOutcome =
  | { kind: "imported"; batch: number; certified: number; declined: number; revoked: number }
  | { kind: "already_imported"; batch: number };

/** How the import report names a batch item: the applicant, the key and its first user ID, never the item's id alone. */
export interface ImportItemLabel {
  requestId: string;
  applicantEmail: string;
  userId: string;
  fingerprint: string;
}

/** A result that fails verification: nothing was applied; `problems` names each item and rule, `items` labels the items. */
export class ImportRefusedError extends KeysignError {
  constructor(
    readonly problems: ResultProblem[],
    readonly items: ReadonlyMap<string, ImportItemLabel> = new Map(),
  ) {
    super("KEYSIGN_ERR_RESULT_REFUSED", `The result was refused and nothing was changed: ${problems.length} check(s) failed.`, 422);
  }
}

/** Bounds on what a refusal's audit event records: a result may break a rule on thousands of items. */
export const MAX_AUDITED_PROBLEMS = 20;
export const MAX_AUDITED_TEXT = 300;

/**
 * Imports a result, or refuses it. A refusal (any expected failure: signature, format, unknown,
 * replaced, cancelled or expired batch, a broken rule) changes nothing but the audit log, where
 * it is recorded in its own transaction. Importing the same file twice is not a refusal.
 */
export async function importResult(ctx: ServiceContext, queueKey: QueueKey, file: Uint8Array, staff: StaffActor): Promise<ImportOutcome> {
  const now = ctx.now();
  let batch: number | null = null;
  try {
    const opened = await openResult(ctx, file);
    batch = opened.result.batch;
    return await applyResult(ctx, { queueKey, file, staff, now, ...opened });
  } catch (error) {
    if (isKeysignError(error) && error.statusCode < 500) await recordRefusal(ctx, { file, staff, batch, error, now });
    throw error;
  }
}

async function openResult(ctx: ServiceContext, file: Uint8Array): Promise<{ master: PublicKey; opened: OpenedFile; result: ResultPayload }> {
  const settings = await readSettings(ctx.db);
  if (!settings.masterPublicKey) {
    throw new ConflictError("Set the master public key in Settings first: results are checked against it.", "KEYSIGN_ERR_NO_MASTER_KEY");
  }
  // During a rotation two masters sign results: the one the signature names, if registered (checked against the batch below).
  const master = (await resultMaster(ctx, file)) ?? (await readKey({ armoredKey: settings.masterPublicKey, config: inspectionConfig({ minRsaBits: 2048 }) }));
  const opened = await openEnvelope(file, "result", master, "master key");
  return { master, opened, result: parseResultPayload(opened.payload) };
}

interface OpenedResult {
  queueKey: QueueKey;
  file: Uint8Array;
  staff: StaffActor;
  now: Date;
  master: PublicKey;
  opened: OpenedFile;
  result: ResultPayload;
}

async function applyResult(ctx: ServiceContext, { queueKey, file, staff, now, master, opened, result }: OpenedResult): Promise<ImportOutcome> {
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
  const wrongMaster = batchMasterProblem(exported.master, master, batch.number);
  if (wrongMaster !== null) throw new TransferError("KEYSIGN_ERR_RESULT_MASTER", wrongMaster);
  const checked = await checkResult(result, { batch: exported, batchSha256: batch.sha256, master, now, config: inspectionConfig({ minRsaBits: 2048 }) });
  if (!checked.ok) throw new ImportRefusedError(checked.problems, await labelItems(ctx, exported, checked.problems));
  const outcome = await commitImport(ctx, { number: batch.number, file, fileSha256: opened.sha256, staff, now, exported, outcomes: checked.outcomes });
  ctx.mailQueued();
  if (outcome.kind === "imported" && outcome.certified + outcome.revoked > 0) ctx.publicationChanged();
  return outcome;
}

interface VerifiedImport {
  number: number;
  file: Uint8Array;
  fileSha256: string;
  staff: StaffActor;
  now: Date;
  exported: BatchPayload;
  outcomes: VerifiedOutcome[];
}

/** One transaction: the batch claimed as imported, every item applied, one audit event. */
async function commitImport(ctx: ServiceContext, { number, file, fileSha256, staff, now, exported, outcomes }: VerifiedImport): Promise<ImportOutcome> {
  const actor: Actor = { type: "staff", id: staff.id, ip: staff.ip };
  return ctx.db.$transaction(
    async (tx) => {
      const claimed = await tx.batch.updateMany({
        where: { number, state: "exported" },
        data: { state: "imported", result: new Uint8Array(file), resultSha256: fileSha256, importedAt: now, importedById: staff.id },
      });
      if (claimed.count !== 1) throw new ConflictError(`Batch ${number} was imported or cancelled meanwhile. Reload the page.`, "KEYSIGN_ERR_BATCH_STATE");
      const counts = { certified: 0, declined: 0, revoked: 0 };
      for (const verified of outcomes) {
        await applyOutcome(tx, ctx, { verified, batch: exported, actor, now });
        counts[verified.kind] += 1;
      }
      await appendAuditEvent(tx, { actorType: "staff", actorId: staff.id, ip: staff.ip, action: "batch.import", data: { batch: number, resultSha256: fileSha256, ...counts } }, now);
      return { kind: "imported" as const, batch: number, ...counts };
    },
    { timeout: 300_000 },
  );
}

/** The applicant, key and first user ID of each item a problem names, from the batch as exported. */
async function labelItems(ctx: ServiceContext, batch: BatchPayload, problems: readonly ResultProblem[]): Promise<Map<string, ImportItemLabel>> {
  const named = new Set(problems.flatMap((problem) => (problem.itemId === null ? [] : [problem.itemId])));
  const items = batch.items.filter((item) => named.has(item.id));
  const requests = await ctx.db.request.findMany({
    where: { id: { in: [...new Set(items.map((item) => item.requestId))] } },
    select: { id: true, applicant: { select: { email: true } } },
  });
  const emails = new Map(requests.map((request) => [request.id, request.applicant.email]));
  return new Map(
    items.map((item) => [item.id, { requestId: item.requestId, applicantEmail: emails.get(item.requestId) ?? "", userId: item.userIds[0] ?? "", fingerprint: item.fingerprint }]),
  );
}

/**
 * The audit event of a refused import: who and when (the event's actor and time), the batch
 * the result names when it could be read, the file's SHA-256, the error and the rules broken.
 * Its own transaction, after the refusal: nothing else is written. Failing to record it must
 * not hide the refusal, so that failure is logged and the refusal still answered.
 */
async function recordRefusal(ctx: ServiceContext, input: { file: Uint8Array; staff: StaffActor; batch: number | null; error: KeysignError; now: Date }): Promise<void> {
  const { error, staff } = input;
  const problems = error instanceof ImportRefusedError ? error.problems : [];
  const data = {
    batch: input.batch,
    fileSha256: sha256Hex(input.file),
    fileBytes: input.file.length,
    code: error.code,
    message: clip(error.message),
    problemCount: problems.length,
    problems: problems.slice(0, MAX_AUDITED_PROBLEMS).map((problem) => ({ rule: problem.rule, itemId: problem.itemId, message: clip(problem.message) })),
  };
  try {
    await ctx.db.$transaction((tx) => appendAuditEvent(tx, { actorType: "staff", actorId: staff.id, ip: staff.ip, action: "batch.import_refused", data }, input.now));
  } catch (auditError) {
    ctx.log.error({ err: auditError, code: error.code }, "a refused result import could not be recorded in the audit log");
  }
}

function clip(text: string): string {
  return text.length > MAX_AUDITED_TEXT ? `${text.slice(0, MAX_AUDITED_TEXT - 1)}…` : text;
}

interface ApplyInput {
  verified: VerifiedOutcome;
  batch: BatchPayload;
  actor: Actor;
  now: Date;
}

async function applyOutcome(tx: Tx, ctx: ServiceContext, { verified, batch, actor, now }: ApplyInput): Promise<void> {
  const { item } = verified;
  if (item.kind === "recertify") return applyRecertifyOutcome(tx, { verified, batch, actor, now });
  const itemWhere = { id: item.id, batchNumber: batch.batch };
  if (verified.kind === "declined") {
    await tx.batchItem.update({ where: itemWhere, data: { outcome: "declined", declineReason: verified.reason } });
    if (item.kind === "certify") {
      await applyTransition(tx, { requestId: item.requestId, event: "decline", actor, now, data: { batch: batch.batch, reason: verified.reason } });
      // The approvals led to a signature the signer refused: reviewers decide again, in the light of the reason.
      await tx.approval.deleteMany({ where: { requestId: item.requestId } });
      await notifyApplicantOfRequest(tx, ctx.config, { requestId: item.requestId, template: "signer-declined", data: { reason: verified.reason }, now });
    } else {
      const row = await tx.batchItem.findUniqueOrThrow({ where: itemWhere, select: { revocationId: true } });
      await tx.revocation.updateMany({ where: { id: row.revocationId ?? "", state: "exported" }, data: { state: "declined" } });
      await appendAuditEvent(tx, { ...auditActor(actor), action: "revocation.declined", requestId: item.requestId, data: { batch: batch.batch, reason: verified.reason } }, now);
    }
    return;
  }
  if (verified.kind === "revoked") {
    const row = await tx.batchItem.update({ where: itemWhere, data: { outcome: "revoked" }, select: { revocationId: true } });
    await applySignedRevocation(tx, { revocationId: row.revocationId ?? "", revocations: verified.revocations, master: batch.master.toUpperCase(), actor, config: ctx.config, now });
    return;
  }
  await tx.batchItem.update({ where: itemWhere, data: { outcome: "certified" } });
  await storeCertifications(tx, { requestId: item.requestId, batch: batch.batch, master: batch.master, entries: verified.userIds });
  await applyTransition(tx, { requestId: item.requestId, event: "certify", actor, now, data: { batch: batch.batch, userIds: verified.userIds.map((entry) => entry.userId) } });
  await completeRenewal(tx, { requestId: item.requestId, userIds: verified.userIds.map((entry) => entry.userId), batch: batch.batch, now });
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
