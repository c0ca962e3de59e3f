import { formatFingerprint } from "../core/key-policy.ts";
import { REVOCATION_REASONS, isRevocationReasonCode } from "../core/revocation-reasons.ts";
import { sha256Lines } from "../core/sha256-display.ts";
import type { ResultProblem } from "../core/transfer/result-check.ts";
import type { findBatch, listBatches, QueuedRequest, QueuedRevocation } from "../repositories/signing-queue.ts";
import type { ImportItemLabel, ImportOutcome } from "../services/result-import.ts";
import type { QueueKey } from "../storage/queue-key.ts";
import { formatDateTime } from "./helpers.ts";

type BatchRow = Awaited<ReturnType<typeof listBatches>>[number];
type BatchDetail = NonNullable<Awaited<ReturnType<typeof findBatch>>>;
type BatchItemRow = BatchDetail["items"][number];

/** The import page's title, whatever state it shows. */
export const IMPORT_TITLE = "Import a signing result";

/**
 * How the officer runs the signer on the offline machine (docs/signing-ceremony.md): from the
 * clone, through npm. The file names are the ones the portal's downloads carry, so each
 * command can be typed, or pasted, exactly as shown.
 */
const SIGNER = "npm run keysign --";

export function batchFileName(number: number): string {
  return `keysign-batch-${number}.json`;
}

/** What `keysign sign` writes beside the batch unless told otherwise (`--out`). */
export function resultFileName(number: number): string {
  return `keysign-batch-${number}.result.json`;
}

/** "exported" batches are open until they expire; the page says which. */
function batchStatus(batch: { state: string; expiresAt: Date }, now: Date): { label: string; cancellable: boolean } {
  if (batch.state === "imported") return { label: "Imported", cancellable: false };
  if (batch.state === "cancelled") return { label: "Cancelled", cancellable: false };
  if (batch.expiresAt < now) return { label: "Expired: cancel it to return its items to the queue", cancellable: true };
  return { label: `Open until ${formatDateTime(batch.expiresAt)}`, cancellable: false };
}

function reasonLabel(code: string, text: string): string {
  const label = isRevocationReasonCode(code) ? REVOCATION_REASONS[code] : code;
  return text ? `${label}: ${text}` : label;
}

function parseUserIds(json: string | undefined): string[] {
  if (!json) return [];
  const parsed: unknown = JSON.parse(json);
  return Array.isArray(parsed) ? parsed.filter((value): value is string => typeof value === "string") : [];
}

export function signingQueueModel(input: {
  requests: QueuedRequest[];
  revocations: QueuedRevocation[];
  batches: BatchRow[];
  queueKey: QueueKey;
  /** Empty until an admin registers the master key. */
  masterFingerprint: string;
  now: Date;
  exportBlocker: string | null;
  error?: string;
}) {
  const queueKeyFile = `keysign-queue-key-${input.queueKey.fingerprint}.asc`;
  return {
    title: "Signing queue",
    error: input.error,
    exportBlocker: input.exportBlocker,
    queueKey: formatFingerprint(input.queueKey.fingerprint),
    // The name the download route gives the file, so the signer's command can be typed as shown.
    queueKeyFile,
    // The GnuPG backend needs only fingerprints; a master key file's path is known only on the signing machine.
    initCommand: input.masterFingerprint ? `${SIGNER} init --queue-key ${queueKeyFile} --gpg --master ${input.masterFingerprint}` : null,
    requests: input.requests.map((request) => ({
      link: `/admin/requests/${request.id}`,
      applicantEmail: request.applicantEmail,
      fingerprint: formatFingerprint(request.key.fingerprint),
      userIds: parseUserIds(request.key.certifyUserIds),
      approvals: request.approvals.map((approval) => ({ staff: approval.staff, at: formatDateTime(approval.at) })),
      queuedAt: formatDateTime(request.queuedAt),
    })),
    revocations: input.revocations.map((revocation) => ({
      link: `/admin/requests/${revocation.requestId}`,
      applicantEmail: revocation.applicantEmail,
      fingerprint: formatFingerprint(revocation.key.fingerprint),
      reason: reasonLabel(revocation.reasonCode, revocation.reasonText),
      userIds: revocation.certifications.map((c) => c.userId),
    })),
    waiting: input.requests.length + input.revocations.length,
    batches: input.batches.map((batch) => ({
      number: batch.number,
      created: formatDateTime(batch.createdAt),
      items: batch._count.items,
      sha256: sha256Lines(batch.sha256),
      ...batchStatus(batch, input.now),
    })),
  };
}

const KIND_LABELS: Readonly<Record<string, string>> = { certify: "Certification", revoke: "Revocation", recertify: "Re-certification by the new master" };
const OUTCOME_LABELS: Readonly<Record<string, string>> = { certified: "Certified", declined: "Declined by the signer", revoked: "Revocation signed" };
/** The request list's state colours, so an outcome reads the same everywhere. */
const OUTCOME_STATES: Readonly<Record<string, string>> = { certified: "certified", declined: "changes_requested", revoked: "revoked" };

function batchItemModel(item: BatchItemRow) {
  const key = item.request.keys[0];
  return {
    link: `/admin/requests/${item.requestId}`,
    applicantEmail: item.request.applicant.email,
    kind: KIND_LABELS[item.kind] ?? item.kind,
    fingerprint: formatFingerprint(key?.fingerprint ?? ""),
    userIds: item.kind === "revoke" ? [] : parseUserIds(key?.certifyUserIds),
    revocationReason: item.revocation ? reasonLabel(item.revocation.reasonCode, item.revocation.reasonText) : null,
    outcome: item.outcome ? (OUTCOME_LABELS[item.outcome] ?? item.outcome) : "Waiting for the result",
    outcomeState: OUTCOME_STATES[item.outcome ?? ""] ?? "exported",
    declineReason: item.declineReason,
  };
}

export function batchModel(batch: BatchDetail, now: Date, flash: { exported?: boolean; held?: number }) {
  const file = batchFileName(batch.number);
  const result = resultFileName(batch.number);
  return {
    title: `Batch ${batch.number}`,
    number: batch.number,
    created: formatDateTime(batch.createdAt),
    expires: formatDateTime(batch.expiresAt),
    imported: formatDateTime(batch.importedAt),
    sha256: sha256Lines(batch.sha256),
    resultSha256: batch.resultSha256 ? sha256Lines(batch.resultSha256) : null,
    open: batch.state === "exported",
    exported: flash.exported ?? false,
    held: flash.held ?? 0,
    file,
    result,
    commands: {
      inspect: `${SIGNER} inspect ${file}`,
      sign: `${SIGNER} sign ${file}`,
      check: `${SIGNER} inspect ${result} --batch ${file}`,
    },
    ...batchStatus(batch, now),
    items: batch.items.map(batchItemModel),
  };
}

/** The groups a successful import lists, in the order the page shows them. */
const IMPORTED_GROUPS = [
  { outcome: "certified", heading: "Certified", lead: "Each applicant is emailed their certified key." },
  { outcome: "revoked", heading: "Revocations signed", lead: "Each revocation is published now." },
  { outcome: "declined", heading: "Declined by the signer", lead: "Each declined request is back in review; its earlier approvals no longer count." },
] as const;

/**
 * A successful import: the counts, then every item by what happened to it, each linking to its
 * request, and the result's SHA-256 as `keysign sign` printed it.
 */
export function importedModel(outcome: Extract<ImportOutcome, { kind: "imported" }>, batch: BatchDetail) {
  const items = batch.items.map((item) => ({ result: item.outcome, ...batchItemModel(item) }));
  return {
    batch: outcome.batch,
    batchLink: `/admin/signing/batches/${outcome.batch}`,
    certified: outcome.certified,
    declined: outcome.declined,
    revoked: outcome.revoked,
    resultSha256: batch.resultSha256 ? sha256Lines(batch.resultSha256) : null,
    groups: IMPORTED_GROUPS.map((group) => ({ ...group, id: `imported-${group.outcome}`, items: items.filter((item) => item.result === group.outcome) })).filter((group) => group.items.length > 0),
  };
}

/**
 * The refused import's table: each item by its applicant, first user ID and fingerprint, with a
 * link to the request; "Whole result" for problems of the file itself. An item the batch does
 * not hold (the result named it) can only be shown by its id.
 */
export function importProblemsModel(problems: readonly ResultProblem[], items: ReadonlyMap<string, ImportItemLabel>) {
  return problems.map((problem) => {
    const label = problem.itemId === null ? undefined : items.get(problem.itemId);
    return {
      whole: problem.itemId === null,
      item: label && {
        applicantEmail: label.applicantEmail,
        userId: label.userId,
        fingerprint: formatFingerprint(label.fingerprint),
        link: `/admin/requests/${label.requestId}`,
      },
      unknownItem: problem.itemId !== null && !label ? problem.itemId : null,
      rule: problem.rule,
      message: problem.message,
    };
  });
}
