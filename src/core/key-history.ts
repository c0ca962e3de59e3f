/**
 * What a key's past revocations mean for a new request of the same key, in words. The
 * applicant's refusal, the approval refusal and the reviewers' history panel all take their
 * sentences from here, so they always agree.
 */
import { endsTheKey, isRevocationReasonCode, REVOCATION_REASONS } from "./revocation-reasons.ts";

/** An applied revocation of a certification of the key, on some request. */
export interface KeyRevocationRecord {
  requestId: string;
  revokedAt: Date;
  reasonCode: string;
  reasonText: string;
}

/** The code of both refusals: intake (the form's key field) and approval (409). */
export const KEY_ENDED_CODE = "KEYSIGN_ERR_KEY_REVOKED";

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/** Why a key-ending revocation happened, to follow "because". */
const ENDING_CAUSES: Readonly<Record<string, string>> = {
  key_compromised: "the key was compromised",
  malicious_module: "the key signed a malicious module",
};

const INTAKE_ADVICE = "A revoked key is never certified again: make a new key and submit that one.";
const APPROVAL_ADVICE = "A revoked key is never certified again, so this request cannot be approved: ask the applicant for changes with a new key, or reject the request.";

/** "3 March 2026": the day in UTC, like every date the portal shows. */
export function formatRevocationDate(at: Date): string {
  return `${at.getUTCDate()} ${MONTHS[at.getUTCMonth()] ?? ""} ${at.getUTCFullYear()}`;
}

export function revocationReasonLabel(code: string): string {
  return isRevocationReasonCode(code) ? REVOCATION_REASONS[code] : code;
}

/** The first revocation that ended the key (compromised, malicious module), or null if the key may still be certified. */
export function keyEndingRevocation<T extends KeyRevocationRecord>(history: readonly T[]): T | null {
  return history.find((revocation) => endsTheKey(revocation.reasonCode)) ?? null;
}

/** "This key's certification was revoked on 3 March 2026 because the key was compromised." */
export function keyEndedStatement(revocation: KeyRevocationRecord): string {
  const cause = ENDING_CAUSES[revocation.reasonCode] ?? `of "${revocationReasonLabel(revocation.reasonCode)}"`;
  return `This key's certification was revoked on ${formatRevocationDate(revocation.revokedAt)} because ${cause}.`;
}

/** What the applicant reads when the form refuses the key. Staff's own words are not repeated to whoever holds the public key. */
export function keyEndedIntakeMessage(revocation: KeyRevocationRecord): string {
  return `${keyEndedStatement(revocation)} ${INTAKE_ADVICE}`;
}

/** What reviewers read on the request page and when an approval is refused. */
export function keyEndedApprovalMessage(revocation: KeyRevocationRecord): string {
  return `${keyEndedStatement(revocation)} ${APPROVAL_ADVICE}`;
}

/** One row of the reviewers' history panel. */
export function describePastRevocation(revocation: KeyRevocationRecord) {
  return {
    requestId: revocation.requestId,
    date: formatRevocationDate(revocation.revokedAt),
    reasonLabel: revocationReasonLabel(revocation.reasonCode),
    reasonText: revocation.reasonText,
    endsTheKey: endsTheKey(revocation.reasonCode),
  };
}
