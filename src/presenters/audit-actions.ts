/**
 * Every audit action code in words, as the audit log tells it: "<actor> <words>". A code the
 * code base emits without words here fails test/presenters/audit-actions.test.ts, so a new
 * event never reaches the log as a bare code.
 */
type AuditData = Readonly<Record<string, unknown>>;
type Words = (data: AuditData) => string;
/** Fixed words, or words that name what the event's data says, with a label for the filter. */
type Entry = string | { label: string; words: Words };

function dyn(label: string, words: Words): Entry {
  return { label, words };
}

function count(value: unknown, one: string, many = `${one}s`): string {
  const n = Array.isArray(value) ? value.length : typeof value === "number" ? value : 0;
  return `${n} ${n === 1 ? one : many}`;
}

function named(value: unknown, fallback: string): string {
  return typeof value === "string" && value !== "" ? value : fallback;
}

function batch(data: AuditData): string {
  return typeof data.batch === "number" ? `batch ${data.batch}` : "a batch";
}

/** Grouped for the action filter; each group's codes share the prefix before the dot. */
export const AUDIT_ACTION_GROUPS: ReadonlyArray<{ prefix: string; label: string; actions: Readonly<Record<string, Entry>> }> = [
  {
    prefix: "request.",
    label: "Requests",
    actions: {
      "request.submit": "submitted the request",
      "request.resubmit": "sent a revised request",
      "request.publish_choice": dyn("Chose which user IDs to publish", (d) => `chose which user IDs to publish (${count(d.userIds, "user ID")})`),
      "request.withdraw": "withdrew the request",
      "request.start_review": "started the review",
      "request.approval": dyn("Approved the request (more approvals needed)", (d) => `approved the request (${typeof d.approvals === "number" ? d.approvals : "?"} of ${typeof d.required === "number" ? d.required : "?"} approvals)`),
      "request.approve": "approved the request, completing the approvals needed",
      "request.enqueue": "queued the request for the signing ceremony",
      "request.request_changes": "asked the applicant for changes",
      "request.reject": "rejected the request",
      "request.note": "added an internal note",
      "request.export": dyn("Sent the request to the signing ceremony", (d) => `sent the request to the signing ceremony in ${batch(d)}`),
      "request.cancel_export": "returned the request to the signing queue",
      "request.decline": dyn("Recorded that the signer declined to certify the request", (d) => `recorded that the signer declined to certify the request in ${batch(d)}`),
      "request.certify": dyn("Certified the request's user IDs", (d) => `certified ${count(d.userIds, "user ID")}`),
      "request.revoke": "revoked the certification",
      "request.renewal_requested": "asked to renew the certification",
      "request.renewed": dyn("Renewed the certification", (d) => `renewed the certification in ${batch(d)}; the new one took over`),
      "request.replaced_choice": dyn("Chose what happens to the replaced key's certification", (d) => (d.choice === "revoke" ? "chose to revoke the replaced key's certification now" : "chose to let the replaced key's certification expire")),
      "request.superseded_revoked": "revoked the certifications a renewal had superseded",
    },
  },
  {
    prefix: "revocation.",
    label: "Revocations",
    actions: {
      "revocation.propose": "proposed revoking the certification",
      "revocation.approve": "approved the revocation",
      "revocation.queue": "queued the revocation for the signing ceremony",
      "revocation.withdraw": "withdrew the revocation proposal",
      "revocation.declined": dyn("Recorded that the signer declined to sign the revocation", (d) => `recorded that the signer declined to sign the revocation in ${batch(d)}`),
    },
  },
  {
    prefix: "batch.",
    label: "Signing batches",
    actions: {
      "batch.export": dyn("Exported a batch", (d) => `exported ${batch(d)} with ${count(d.items, "item")}`),
      "batch.cancel": dyn("Cancelled a batch", (d) => `cancelled ${batch(d)}`),
      "batch.import": dyn("Imported a batch's result", (d) => `imported the result of ${batch(d)}: ${count(d.certified, "request")} certified, ${count(d.revoked, "revocation")} signed, ${count(d.declined, "item")} declined`),
      "batch.import_refused": dyn("Tried to import a result, which was refused", (d) => `tried to import a result${typeof d.batch === "number" ? ` for batch ${d.batch}` : ""}, which was refused`),
    },
  },
  {
    prefix: "key.",
    label: "Published keys",
    actions: {
      "key.owner_update": "updated the published key",
    },
  },
  {
    prefix: "keyserver_push.",
    label: "Keyservers",
    actions: {
      "keyserver_push.retry": dyn("Asked to send a key to a keyserver again", (d) => `asked to send a key to ${named(d.keyserver, "a keyserver")} again`),
    },
  },
  {
    prefix: "applicant.",
    label: "Applicants",
    actions: {
      "applicant.created": "created an applicant account",
      "applicant.signed_in": "signed in",
      "applicant.address_confirmed": dyn("Confirmed an address", (d) => `confirmed the address ${named(d.address, "")}`.trim()),
      "applicant.address_removed": dyn("Removed an address", (d) => `removed the address ${named(d.address, "")}`.trim()),
    },
  },
  {
    prefix: "staff.",
    label: "Staff accounts",
    actions: {
      "staff.setup_link_created": dyn("Created a setup link for the first admin", (d) => `created a setup link for the first admin${typeof d.address === "string" && d.address ? ` (${d.address})` : ""}`),
      "staff.invited": dyn("Invited a staff member", (d) => `invited ${named(d.email, "a staff member")}`),
      "staff.invite_revoked": dyn("Cancelled an invitation", (d) => `cancelled the invitation of ${named(d.email, "a staff member")}`),
      "staff.created": "created their staff account",
      "staff.signed_in": "signed in",
      "staff.second_factor_enrolled": "set up their second factor",
      "staff.roles_changed": dyn("Changed a staff member's roles", (d) => `changed the roles of ${named(d.email, "a staff member")}`),
      "staff.disabled": dyn("Disabled a staff account", (d) => `disabled the account of ${named(d.email, "a staff member")}`),
      "staff.enabled": dyn("Enabled a staff account", (d) => `enabled the account of ${named(d.email, "a staff member")}`),
      "staff.second_factor_reset": dyn("Reset a staff member's second factor", (d) => `reset the second factor of ${named(d.email, "a staff member")}`),
    },
  },
  {
    prefix: "settings.",
    label: "Settings",
    actions: {
      "settings.update": "changed the settings",
      "settings.master_key": "saved the master public key",
      "settings.setup_checklist": dyn("Hid or showed the setup checklist", (d) => (d.hidden === true ? "hid the setup checklist" : "showed the setup checklist")),
    },
  },
  {
    prefix: "master.",
    label: "Master key rotation",
    actions: {
      "master.register_new": "registered a new master key beside the current one",
      "master.recertify": dyn("Re-certified keys with the new master", (d) => `re-certified ${count(d.userIds, "user ID")} with the new master in ${batch(d)}`),
      "master.recertify_declined": dyn("Recorded that the signer declined a re-certification", (d) => `recorded that the signer declined a re-certification in ${batch(d)}`),
      "master.retire": "retired the old master key; the new one is now current",
    },
  },
];

const WORDS: ReadonlyMap<string, Entry> = new Map(AUDIT_ACTION_GROUPS.flatMap((group) => Object.entries(group.actions)));

/** Every action code that has words. */
export const AUDIT_ACTIONS_WITH_WORDS: readonly string[] = [...WORDS.keys()];

/** What happened, after the actor's name; an unknown code (an older or newer version's) is shown as it is. */
export function describeAction(action: string, data: AuditData): string {
  const entry = WORDS.get(action);
  if (entry === undefined) return `did “${action}”`;
  return typeof entry === "string" ? entry : entry.words(data);
}

/** The action filter's label of one code. */
export function actionLabel(entry: Entry): string {
  const text = typeof entry === "string" ? entry : entry.label;
  return text.charAt(0).toUpperCase() + text.slice(1);
}
