/**
 * Turns the signing queue into a batch payload: per item the canonical key, the exact user IDs,
 * the certification parameters and who approved it. Notations name the request, the agreement's
 * SHA-256 and the batch, in the portal's own namespace, so a certification says what it is for.
 */
import { describeRevocationReason } from "../core/revocation-reasons.ts";
import type { Settings } from "../core/settings.ts";
import type { BatchItem, BatchPayload, Notation, PastRevocation, Renews } from "../core/transfer/formats.ts";
import { FORMAT_VERSION } from "../core/transfer/formats.ts";
import { keyStatusUrl } from "../core/transfer/revocation-text.ts";
import type { PastRevocation as RevocationRow } from "../repositories/revocations.ts";
import type { QueuedRequest, QueuedRevocation } from "../repositories/signing-queue.ts";

export interface BatchHeader {
  number: number;
  portal: string;
  createdAt: Date;
  expiresAt: Date;
  queueKeyFingerprint: string;
  settings: Settings;
}

/** `domain` is the certification domain setting, never the portal's own host name (which may be localhost). */
export function notationsFor(domain: string, request: { id: string; agreementSha256: string }, batch: number): Notation[] {
  return [
    { name: `request@${domain}`, value: request.id },
    { name: `agreement-sha256@${domain}`, value: request.agreementSha256 },
    { name: `batch@${domain}`, value: String(batch) },
  ];
}

/** What the signing officer reads about a key's earlier revocations. */
export function pastRevocations(rows: readonly RevocationRow[]): PastRevocation[] {
  return rows.slice(-20).map((row) => ({ revokedAt: row.revokedAt.toISOString(), reason: describeRevocationReason(row.reasonCode, row.reasonText) }));
}

export function certifyItem(id: string, request: QueuedRequest, header: BatchHeader, history: readonly RevocationRow[]): BatchItem {
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
    statusUrl: keyStatusUrl(header.portal, request.key.fingerprint),
    certification: {
      validityDays: header.settings.certificationValidityDays,
      policyUrl: header.settings.policyUrl,
      notations: notationsFor(header.settings.certificationDomain, request, header.number),
    },
    history: pastRevocations(history),
    ...renewalOf(request),
  };
}

/** A renewal item names the request it renews, so the officer sees that it is one; other items carry nothing extra. */
function renewalOf(request: QueuedRequest): { renews?: Renews } {
  return request.renews ? { renews: { requestId: request.renews.requestId, expiresAt: request.renews.expiresAt?.toISOString() ?? null } } : {};
}

export function revokeItem(id: string, revocation: QueuedRevocation, header: BatchHeader): BatchItem {
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
    statusUrl: keyStatusUrl(header.portal, revocation.key.fingerprint),
  };
}

export function batchPayload(header: BatchHeader, items: BatchItem[]): BatchPayload {
  return {
    format: "keysign-batch",
    version: FORMAT_VERSION,
    batch: header.number,
    portal: header.portal,
    organisation: header.settings.organisationName,
    createdAt: header.createdAt.toISOString(),
    expiresAt: header.expiresAt.toISOString(),
    queueKey: header.queueKeyFingerprint,
    master: header.settings.masterFingerprint,
    items,
  };
}

/**
 * What must be set before a batch leaves: what it puts into certifications and revocations
 * is permanent. Returns the message naming what is missing, or null.
 */
export function exportPrerequisites(settings: Settings, publicUrl: string): string | null {
  const missing = [settings.organisationName ? null : "the organisation name", settings.certificationDomain ? null : "the certification domain"].filter((name) => name !== null);
  if (missing.length > 0) {
    return `Set ${missing.join(" and ")} in Settings before exporting: every certification and revocation the master key makes carries them, for good.`;
  }
  if (isLocalAddress(new URL(publicUrl).hostname)) {
    return `PUBLIC_URL is ${publicUrl}: every revocation points to the key's status page under it. Set PUBLIC_URL to the address installs reach, restart the portal, then export.`;
  }
  return null;
}

/** Loopback and unspecified addresses, and localhost names (a trailing dot included). */
function isLocalAddress(hostname: string): boolean {
  const host = hostname.replace(/\.$/, "").toLowerCase();
  return host === "localhost" || host.endsWith(".localhost") || /^127\./.test(host) || host === "0.0.0.0" || host === "[::1]" || host === "[::]";
}
