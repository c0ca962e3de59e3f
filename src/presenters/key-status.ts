import { formatFingerprint } from "../core/key-policy.ts";
import { keyserverAddress } from "../core/publication/hkp.ts";
import type { DirectoryEntry } from "../core/publication/directory.ts";
import type { KeyState, KeyStatus } from "../core/publication/key-status.ts";
import { isRevocationReasonCode, REVOCATION_REASONS } from "../core/revocation-reasons.ts";
import { formatDate } from "./helpers.ts";

export const STATE_LABELS: Readonly<Record<KeyState, string>> = {
  certified: "Certified",
  expired: "Certification expired",
  revoked: "Certification revoked",
};

const STATE_MEANING: Readonly<Record<KeyState, string>> = {
  certified: "Modules signed with this key are trusted by installs that trust the master key.",
  expired: "The certification lapsed: installs treat modules signed with this key as signed by an untrusted key until it is certified again.",
  revoked: "Installs that know of the revocation refuse every module this key signed.",
};

/**
 * The public page of one key. Only the state, its dates and the reason's label: no user ID or
 * address (listing them needs the owner's consent) and no staff text.
 */
export function keyStatusModel(fingerprint: string, status: KeyStatus, publicUrl: string) {
  return {
    title: `Key ${formatFingerprint(fingerprint)}`,
    fingerprint: formatFingerprint(fingerprint),
    command: `gpg --check-sigs ${fingerprint}`,
    download: `/vks/v1/by-fingerprint/${fingerprint}`,
    // GnuPG 2.2.17+ keeps only self-signatures of fetched keys without this option, dropping the certification.
    fetch: `gpg --keyserver ${keyserverAddress(publicUrl)} --keyserver-options no-self-sigs-only --recv-keys ${fingerprint}`,
    state: status.state,
    stateLabel: STATE_LABELS[status.state],
    meaning: STATE_MEANING[status.state],
    periods: status.periods.map((period) => ({
      stateLabel: STATE_LABELS[period.state],
      certifiedAt: formatDate(period.certifiedAt),
      expiresAt: period.expiresAt ? formatDate(period.expiresAt) : "does not expire",
      revokedAt: period.revokedAt ? formatDate(period.revokedAt) : null,
      reason: period.revocationReason === null ? null : isRevocationReasonCode(period.revocationReason) ? REVOCATION_REASONS[period.revocationReason] : "Not given",
    })),
  };
}

/** The most entries one directory page shows; a search narrows the rest. */
export const DIRECTORY_PAGE_SIZE = 100;

/** The public directory page: the listed developers a search found (all when it is empty). */
export function directoryModel(found: readonly DirectoryEntry[], query: string) {
  const shown = found.slice(0, DIRECTORY_PAGE_SIZE);
  return {
    title: query ? `Certified developers matching “${query}”` : "Certified developers",
    query,
    count: found.length,
    truncated: found.length > shown.length,
    pageSize: DIRECTORY_PAGE_SIZE,
    entries: shown.map((entry) => ({
      names: entry.names.join(", "),
      addresses: entry.addresses,
      fingerprint: formatFingerprint(entry.fingerprint),
      href: `/keys/${entry.fingerprint}`,
      certifiedSince: formatDate(entry.certifiedSince),
      expiresAt: entry.expiresAt ? formatDate(entry.expiresAt) : "does not expire",
      state: entry.state,
      stateLabel: STATE_LABELS[entry.state],
    })),
  };
}
