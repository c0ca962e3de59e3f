import { formatFingerprint } from "../core/key-policy.ts";
import { keyserverAddress } from "../core/publication/hkp.ts";
import type { KeyState, KeyStatus } from "../core/publication/key-status.ts";
import { isRevocationReasonCode, REVOCATION_REASONS } from "../core/revocation-reasons.ts";
import { formatDate } from "./helpers.ts";

const STATE_LABELS: Readonly<Record<KeyState, string>> = {
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
