/**
 * Why staff revoke a certification (PRODUCT.md, "Revocation"). The code is stored and shown
 * as its label; the text is staff's own words, required only for "other".
 */
export const REVOCATION_REASONS = {
  key_compromised: "Key compromised",
  malicious_module: "Malicious module",
  unanswered_vulnerability: "Unanswered vulnerability",
  commercial_use: "Commercial use without agreement",
  superseded: "Superseded by a new key",
  other: "Other",
} as const;

export type RevocationReasonCode = keyof typeof REVOCATION_REASONS;

export const MAX_REVOCATION_TEXT = 500;

/** A revocation still in progress; while one exists, no other can be proposed for the request. */
export const OPEN_REVOCATION_STATES: readonly string[] = ["proposed", "queued", "exported"];

export const REVOCATION_STATE_LABELS: Readonly<Record<string, string>> = {
  proposed: "Waiting for approvals",
  queued: "Waiting for the signing ceremony",
  exported: "At the signing ceremony",
  applied: "Applied",
  withdrawn: "Withdrawn",
  declined: "Declined by the signing officer",
};

export function isRevocationReasonCode(value: string): value is RevocationReasonCode {
  return Object.hasOwn(REVOCATION_REASONS, value);
}

export type ReasonCheck = { ok: true; code: RevocationReasonCode; text: string } | { ok: false; message: string };

export function checkRevocationReason(code: string, text: string): ReasonCheck {
  if (!isRevocationReasonCode(code)) return { ok: false, message: "Choose the reason for the revocation from the list." };
  const trimmed = text.trim();
  if (code === "other" && trimmed === "") return { ok: false, message: "Describe the reason: it is required when the reason is \"Other\", and the key holder receives it by email." };
  if (trimmed.length > MAX_REVOCATION_TEXT) return { ok: false, message: `Keep the explanation under ${MAX_REVOCATION_TEXT} characters (it has ${trimmed.length}).` };
  return { ok: true, code, text: trimmed };
}

/** One line for the audit log and the timelines: the label, then the text if any. */
export function describeRevocationReason(code: string, text: string): string {
  const label = isRevocationReasonCode(code) ? REVOCATION_REASONS[code] : code;
  return text ? `${label}: ${text}` : label;
}

/**
 * A key whose certification was revoked for one of these reasons is never certified again:
 * its holder must make a new key. Other reasons leave the key eligible, with its history shown.
 */
export const KEY_ENDING_REASONS: readonly RevocationReasonCode[] = ["key_compromised", "malicious_module"];

export function endsTheKey(code: string): boolean {
  return (KEY_ENDING_REASONS as readonly string[]).includes(code);
}
