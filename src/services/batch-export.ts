/**
 * Turns the signing queue into a batch payload: per item the canonical key, the exact user IDs,
 * the certification parameters and who approved it. Notations name the request, the agreement's
 * SHA-256 and the batch, in the portal's own namespace, so a certification says what it is for.
 */
import type { Settings } from "../core/settings.ts";
import type { BatchItem, BatchPayload, Notation } from "../core/transfer/formats.ts";
import { FORMAT_VERSION } from "../core/transfer/formats.ts";
import type { QueuedRequest, QueuedRevocation } from "../repositories/signing-queue.ts";

export interface BatchHeader {
  number: number;
  portal: string;
  createdAt: Date;
  expiresAt: Date;
  queueKeyFingerprint: string;
  settings: Settings;
}

export function notationsFor(portal: string, request: { id: string; agreementSha256: string }, batch: number): Notation[] {
  const domain = new URL(portal).hostname;
  return [
    { name: `request@${domain}`, value: request.id },
    { name: `agreement-sha256@${domain}`, value: request.agreementSha256 },
    { name: `batch@${domain}`, value: String(batch) },
  ];
}

export function certifyItem(id: string, request: QueuedRequest, header: BatchHeader): BatchItem {
  const userIds = JSON.parse(request.key.certifyUserIds) as string[];
  return {
    kind: "certify",
    id,
    requestId: request.id,
    revision: request.key.revision,
    fingerprint: request.key.fingerprint,
    key: Buffer.from(request.key.canonicalKey).toString("base64"),
    keySha256: request.key.canonicalSha256,
    userIds,
    approvals: request.approvals.map((approval) => ({ staff: approval.staff, at: approval.at.toISOString() })),
    certification: {
      validityDays: header.settings.certificationValidityDays,
      policyUrl: header.settings.policyUrl,
      notations: notationsFor(header.portal, request, header.number),
    },
  };
}

export function revokeItem(id: string, revocation: QueuedRevocation): BatchItem {
  return {
    kind: "revoke",
    id,
    requestId: revocation.requestId,
    fingerprint: revocation.key.fingerprint,
    key: Buffer.from(revocation.key.canonicalKey).toString("base64"),
    keySha256: revocation.key.canonicalSha256,
    userIds: revocation.certifications.map((certification) => certification.userId),
    certifications: revocation.certifications.map((certification) => Buffer.from(certification.signature).toString("base64")),
    reason: { code: revocation.reasonCode, text: revocation.reasonText },
    approvals: revocation.approvals.map((approval) => ({ staff: approval.staff, at: approval.at.toISOString() })),
  };
}

export function batchPayload(header: BatchHeader, items: BatchItem[]): BatchPayload {
  return {
    format: "keysign-batch",
    version: FORMAT_VERSION,
    batch: header.number,
    portal: header.portal,
    createdAt: header.createdAt.toISOString(),
    expiresAt: header.expiresAt.toISOString(),
    queueKey: header.queueKeyFingerprint,
    master: header.settings.masterFingerprint,
    items,
  };
}
