/**
 * When a certification may be renewed, in words the owner can act on. Pure: the facts and the
 * time in, a refusal or null out (docs/decisions.md, "Renewal is a new request").
 */
import { formatRevocationDate } from "./key-history.ts";
import type { RequestState } from "./request-lifecycle.ts";

/** A certification that lapsed at most this many days ago can still be renewed in one action. */
export const RENEWAL_GRACE_DAYS = 90;

const DAY_MS = 86_400_000;

export interface RenewalFacts {
  state: RequestState;
  /** When the request's certification lapses (null: never, or none made). */
  certificationExpiresAt: Date | null;
  /** Whether the request holds at least one certification that is not revoked. */
  hasLiveCertification: boolean;
  /** A later request renewing this one that is open or certified, if any. */
  renewal: { id: string; state: RequestState } | null;
  /** Another open request for the same key (a renewal, a revision), if any; `own` when it is the same applicant's. */
  openRequest: { id: string; own: boolean } | null;
}

export type RenewalRefusal = { code: string; message: string };

/** Why this request cannot be renewed now, or null when it can. */
export function renewalRefusal(facts: RenewalFacts, now: Date): RenewalRefusal | null {
  if (facts.state === "revoked") {
    return { code: "KEYSIGN_ERR_RENEW_REVOKED", message: "This certification was revoked, so it cannot be renewed. Make a new request, with a new key if the old one was compromised." };
  }
  if (facts.state !== "certified" || !facts.hasLiveCertification) {
    return { code: "KEYSIGN_ERR_RENEW_STATE", message: "Only a certified request can be renewed. This one has no certification in force." };
  }
  if (facts.renewal !== null) {
    const what = facts.renewal.state === "certified" ? "was already renewed" : "is already being renewed";
    return { code: "KEYSIGN_ERR_RENEW_EXISTS", message: `This certification ${what}: follow the renewal at /requests/${facts.renewal.id}.` };
  }
  if (facts.openRequest !== null) {
    // Someone else's request is never named: its id is theirs, as the request form's own message keeps it.
    const where = facts.openRequest.own ? ` (/requests/${facts.openRequest.id})` : ", made by someone else";
    return { code: "KEYSIGN_ERR_RENEW_OPEN", message: `Another request for this key is open${where}. Finish or withdraw it first.` };
  }
  const expiresAt = facts.certificationExpiresAt;
  if (expiresAt !== null && now.getTime() - expiresAt.getTime() > RENEWAL_GRACE_DAYS * DAY_MS) {
    return {
      code: "KEYSIGN_ERR_RENEW_TOO_LATE",
      message: `The certification expired on ${formatRevocationDate(expiresAt)}, more than ${RENEWAL_GRACE_DAYS} days ago, so it cannot be renewed. Make a new request for the key from your requests page.`,
    };
  }
  return null;
}

/** The user IDs a renewal certifies: those certified before that are still bound to the key on file. */
export function renewedUserIds(certified: readonly string[], onKey: readonly string[]): string[] {
  const bound = new Set(onKey);
  return [...new Set(certified)].filter((userId) => bound.has(userId));
}

/**
 * Why a revision of a renewal cannot be accepted: a renewal is reviewed on its own, smaller
 * quorum because it certifies again exactly what was certified before. Another key, or a user
 * ID that was not certified, is a new request and needs the usual review.
 */
export function renewalRevisionProblem(renewed: { fingerprint: string; certifyUserIds: readonly string[] }, revision: { fingerprint: string; certifyUserIds: readonly string[] }): string | null {
  if (revision.fingerprint !== renewed.fingerprint) {
    return "A renewal keeps the key it renews. To have another key certified, use \"Replace this key\" on the certified request instead.";
  }
  const added = revision.certifyUserIds.filter((userId) => !renewed.certifyUserIds.includes(userId));
  if (added.length > 0) {
    return `A renewal certifies only user IDs that were certified before; ${added.map((u) => `"${u}"`).join(", ")} was not. Make a new request to have it certified.`;
  }
  return null;
}
