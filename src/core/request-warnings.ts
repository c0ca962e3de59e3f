/**
 * The short warnings the staff request list shows beside a request: what a reviewer should
 * look at before approving. Pure rules over facts the list query already has; the request page
 * explains each in full.
 */
import { LIMITS } from "./key-policy.ts";

/** A key that stops working this soon leaves its owner little time once certified. */
export const KEY_EXPIRY_WARN_DAYS = 60;

const DAY_MS = 86_400_000;

export type RequestWarningCode = "rsa_small" | "key_expiring" | "key_expired" | "revoked_before" | "key_open_elsewhere";

export interface RequestWarning {
  code: RequestWarningCode;
  /** A few words for the tag. */
  label: string;
  /** The sentence behind the tag, for a tooltip and screen readers. */
  detail: string;
}

export interface RequestWarningFacts {
  /** The primary key's RSA modulus in bits, or null for other algorithms. */
  rsaBits: number | null;
  keyExpiresAt: Date | null;
  /** Another request of the same key had a certification revoked. */
  revokedBefore: boolean;
  /** How many other open requests hold the same key. */
  otherOpenRequests: number;
}

export function requestWarnings(facts: RequestWarningFacts, now: Date): RequestWarning[] {
  const warnings: RequestWarning[] = [];
  if (facts.rsaBits !== null && facts.rsaBits < LIMITS.rsaWarnBelowBits) {
    warnings.push({ code: "rsa_small", label: `RSA ${facts.rsaBits}`, detail: `The key is RSA ${facts.rsaBits}: below the ${LIMITS.rsaWarnBelowBits} bits recommended.` });
  }
  const expiry = expiryWarning(facts.keyExpiresAt, now);
  if (expiry) warnings.push(expiry);
  if (facts.revokedBefore) {
    warnings.push({ code: "revoked_before", label: "Revoked before", detail: "A certification of this key was revoked on another request: read the key's history on the request page." });
  }
  if (facts.otherOpenRequests > 0) {
    const count = facts.otherOpenRequests;
    warnings.push({ code: "key_open_elsewhere", label: "Same key in another request", detail: `${count} other open request${count === 1 ? " holds" : "s hold"} the same key.` });
  }
  return warnings;
}

function expiryWarning(expiresAt: Date | null, now: Date): RequestWarning | null {
  if (!expiresAt) return null;
  const left = expiresAt.getTime() - now.getTime();
  if (left <= 0) return { code: "key_expired", label: "Key expired", detail: `The key expired on ${expiresAt.toISOString().slice(0, 10)}.` };
  if (left > KEY_EXPIRY_WARN_DAYS * DAY_MS) return null;
  const days = Math.ceil(left / DAY_MS);
  return { code: "key_expiring", label: `Key expires in ${days} day${days === 1 ? "" : "s"}`, detail: `The key expires on ${expiresAt.toISOString().slice(0, 10)}, within ${KEY_EXPIRY_WARN_DAYS} days.` };
}
