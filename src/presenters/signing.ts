import { formatFingerprint } from "../core/key-policy.ts";
import type { ResultProblem } from "../core/transfer/result-check.ts";
import type { findBatch, listBatches, QueuedRequest, QueuedRevocation } from "../repositories/signing-queue.ts";
import type { ImportItemLabel } from "../services/result-import.ts";
import type { QueueKey } from "../storage/queue-key.ts";
import { formatDateTime } from "./helpers.ts";

type BatchRow = Awaited<ReturnType<typeof listBatches>>[number];
type BatchDetail = NonNullable<Awaited<ReturnType<typeof findBatch>>>;

/** "exported" batches are open until they expire; the page says which. */
function batchStatus(batch: { state: string; expiresAt: Date }, now: Date): { label: string; cancellable: boolean } {
  if (batch.state === "imported") return { label: "Imported", cancellable: false };
  if (batch.state === "cancelled") return { label: "Cancelled", cancellable: false };
  if (batch.expiresAt < now) return { label: "Expired: cancel it to return its items to the queue", cancellable: true };
  return { label: `Open until ${formatDateTime(batch.expiresAt)}`, cancellable: false };
}

/** SHA-256 in groups of eight, so a person can compare it chunk by chunk with the line `keysign inspect` prints. */
/** The import page's title, whatever state it shows. */
export const IMPORT_TITLE = "Import a signing result";

export function formatSha256(hex: string): string {
  return hex.replace(/(.{8})(?=.)/g, "$1 ");
}

export function signingQueueModel(input: {
  requests: QueuedRequest[];
  revocations: QueuedRevocation[];
  batches: BatchRow[];
  queueKey: QueueKey;
  now: Date;
  exportBlocker: string | null;
  error?: string;
}) {
  return {
    title: "Signing",
    error: input.error,
    exportBlocker: input.exportBlocker,
    queueKey: formatFingerprint(input.queueKey.fingerprint),
    // The name the download route gives the file, so the signer's command can be typed as shown.
    queueKeyFile: `keysign-queue-key-${input.queueKey.fingerprint}.asc`,
    requests: input.requests.map((request) => ({
      id: request.id,
      fingerprint: formatFingerprint(request.key.fingerprint),
      userIds: JSON.parse(request.key.certifyUserIds) as string[],
      approvals: request.approvals.map((approval) => `${approval.staff} (${formatDateTime(approval.at)})`),
      queuedAt: formatDateTime(request.queuedAt),
    })),
    revocations: input.revocations.map((revocation) => ({
      requestId: revocation.requestId,
      fingerprint: formatFingerprint(revocation.key.fingerprint),
      reason: revocation.reasonText || revocation.reasonCode,
      userIds: revocation.certifications.map((c) => c.userId),
    })),
    waiting: input.requests.length + input.revocations.length,
    batches: input.batches.map((batch) => ({
      number: batch.number,
      created: formatDateTime(batch.createdAt),
      items: batch._count.items,
      sha256: formatSha256(batch.sha256),
      ...batchStatus(batch, input.now),
    })),
  };
}

const OUTCOME_LABELS: Record<string, string> = { certified: "Certified", declined: "Declined by the signer", revoked: "Revocation signed" };

export function batchModel(batch: BatchDetail, now: Date, flash: { exported?: boolean; held?: number }) {
  return {
    title: `Batch ${batch.number}`,
    number: batch.number,
    created: formatDateTime(batch.createdAt),
    expires: formatDateTime(batch.expiresAt),
    imported: formatDateTime(batch.importedAt),
    sha256: formatSha256(batch.sha256),
    open: batch.state === "exported",
    exported: flash.exported ?? false,
    held: flash.held ?? 0,
    ...batchStatus(batch, now),
    items: batch.items.map((item) => ({
      requestId: item.requestId,
      kind: item.kind === "revoke" ? "Revocation" : item.kind === "recertify" ? "Re-certification by the new master" : "Certification",
      fingerprint: formatFingerprint(item.request.keys[0]?.fingerprint ?? ""),
      outcome: item.outcome ? (OUTCOME_LABELS[item.outcome] ?? item.outcome) : "Waiting for the result",
      declineReason: item.declineReason,
    })),
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
