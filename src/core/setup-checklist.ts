/**
 * What a new portal needs before it can certify anyone, as the admin's setup checklist lists it.
 * Pure: the facts are read elsewhere, so each rule is tested on its own.
 */

/** The last email the worker tried, when mail goes out over SMTP; null when none was tried yet. */
export type LastDelivery = { outcome: "sent"; at: Date } | { outcome: "failing"; attempts: number } | null;

export interface SetupFacts {
  masterFingerprint: string;
  certificationDomain: string;
  /** Staff who hold the reviewer role, are not disabled and have finished setting up their second factor. */
  activeReviewers: number;
  approvalsRequired: number;
  /** SMTP_URL is set; without it every email is only written to a file in the data directory. */
  smtpConfigured: boolean;
  lastDelivery: LastDelivery;
  signingSchedule: string;
}

export type SetupItemId = "master-key" | "notation-domain" | "reviewers" | "mail" | "schedule";

export interface SetupItem {
  id: SetupItemId;
  done: boolean;
}

export function setupItems(facts: SetupFacts): SetupItem[] {
  return [
    { id: "master-key", done: facts.masterFingerprint !== "" },
    { id: "notation-domain", done: facts.certificationDomain !== "" },
    // Each approval must come from a different reviewer, so fewer than the quorum can approve nothing.
    { id: "reviewers", done: facts.activeReviewers >= facts.approvalsRequired },
    // Mail that is retrying or has failed is not "configured", even with an SMTP address set.
    { id: "mail", done: facts.smtpConfigured && facts.lastDelivery?.outcome !== "failing" },
    { id: "schedule", done: facts.signingSchedule.trim() !== "" },
  ];
}
