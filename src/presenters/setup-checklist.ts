import { formatFingerprint } from "../core/key-policy.ts";
import type { SetupFacts, SetupItemId } from "../core/setup-checklist.ts";
import type { SetupChecklist } from "../services/setup-checklist.ts";
import { formatDateTime } from "./helpers.ts";

interface ItemText {
  name: string;
  /** Where to fix it; null when the fix is in the portal's environment, outside any page. */
  href: string | null;
  hint: (facts: SetupFacts, done: boolean) => string;
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

function mailHint(facts: SetupFacts): string {
  if (!facts.smtpConfigured) return "SMTP_URL is not set, so emails are only written to files in the data directory and nobody receives them. Set SMTP_URL in the portal's environment and restart the portal.";
  const last = facts.lastDelivery;
  if (last === null) return "SMTP_URL is set. No email has been delivered yet; this shows whether the next one is.";
  if (last.outcome === "sent") return `SMTP_URL is set and the last email was delivered at ${formatDateTime(last.at)}.`;
  return `The newest email has not been delivered after ${plural(last.attempts, "attempt", "attempts")}: check SMTP_URL in the portal's environment and that the mail server accepts the portal's mail.`;
}

const ITEMS: Readonly<Record<SetupItemId, ItemText>> = {
  "master-key": {
    name: "Register the master public key",
    href: "/admin/settings#masterKeyText",
    hint: (facts, done) => (done ? `Fingerprint ${formatFingerprint(facts.masterFingerprint)}.` : "Batches name the master key, and imports check every signature against it. Upload its public part under Settings."),
  },
  "notation-domain": {
    name: "Set the certification domain",
    href: "/admin/settings#certificationDomain",
    hint: (facts, done) =>
      done ? `Certifications carry notations named request@${facts.certificationDomain}.` : "Every certification carries notations named after a domain the organisation controls, for good. Batches cannot be exported until it is set.",
  },
  reviewers: {
    name: "Have enough reviewers for the approval quorum",
    href: "/admin/staff#invite",
    hint: (facts) =>
      `${plural(facts.activeReviewers, "active reviewer", "active reviewers")}; each request needs ${plural(facts.approvalsRequired, "approval", "approvals")} from different reviewers. Reviewers count once they have set up their authenticator app.`,
  },
  mail: { name: "Configure mail", href: null, hint: mailHint },
  schedule: {
    name: "Set the signing schedule",
    href: null,
    hint: (facts, done) =>
      done
        ? `Applicants read: “Signing ceremonies are held ${facts.signingSchedule}.”`
        : "Applicants are told when their key will be signed. Set SIGNING_SCHEDULE in the portal's environment (for example “on the first Monday of each month”) and restart the portal.",
  },
};

/**
 * The GOV.UK task list on an admin's dashboard: every item done or to do, with where to fix it.
 * Null once everything is done, and for staff who are not admins.
 */
export function setupChecklistModel(checklist: SetupChecklist | null) {
  if (checklist === null) return null;
  const todo = checklist.items.filter((item) => !item.done).length;
  if (todo === 0) return null;
  return {
    hidden: checklist.hidden,
    total: checklist.items.length,
    done: checklist.items.length - todo,
    todo,
    items: checklist.items.map((item) => {
      const text = ITEMS[item.id];
      return { id: `setup-${item.id}`, name: text.name, href: text.href, hint: text.hint(checklist.facts, item.done), done: item.done };
    }),
  };
}
