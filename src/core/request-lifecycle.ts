/**
 * The request lifecycle (PRODUCT.md) as one state machine. Services ask it whether
 * an event is allowed from the current state and by whom; nothing else decides.
 */
export const REQUEST_STATES = [
  "submitted",
  "in_review",
  "changes_requested",
  "approved",
  "queued",
  "exported",
  "certified",
  "revoked",
  "withdrawn",
  "rejected",
] as const;
export type RequestState = (typeof REQUEST_STATES)[number];

export type Actor = "applicant" | "staff" | "system";

export type RequestEvent =
  | "submit"
  | "start_review"
  | "request_changes"
  | "resubmit"
  | "approve"
  | "reject"
  | "withdraw"
  | "enqueue"
  | "export"
  | "cancel_export"
  | "decline"
  | "certify"
  | "revoke";

interface Transition {
  from: readonly (RequestState | null)[];
  to: RequestState;
  by: readonly Actor[];
}

/** `null` is "no request yet". */
export const TRANSITIONS: Readonly<Record<RequestEvent, Transition>> = {
  submit: { from: [null], to: "submitted", by: ["applicant"] },
  start_review: { from: ["submitted"], to: "in_review", by: ["staff"] },
  request_changes: { from: ["submitted", "in_review"], to: "changes_requested", by: ["staff"] },
  resubmit: { from: ["changes_requested"], to: "in_review", by: ["applicant"] },
  approve: { from: ["submitted", "in_review"], to: "approved", by: ["staff"] },
  reject: { from: ["submitted", "in_review", "changes_requested"], to: "rejected", by: ["staff"] },
  // Withdrawal is possible until the request has left the portal in a batch.
  withdraw: {
    from: ["submitted", "in_review", "changes_requested", "approved", "queued"],
    to: "withdrawn",
    by: ["applicant"],
  },
  enqueue: { from: ["approved"], to: "queued", by: ["system"] },
  export: { from: ["queued"], to: "exported", by: ["staff"] },
  cancel_export: { from: ["exported"], to: "queued", by: ["staff"] },
  decline: { from: ["exported"], to: "in_review", by: ["staff"] },
  certify: { from: ["exported"], to: "certified", by: ["staff"] },
  // The system revokes on the owner's behalf when a replacement key's owner asks for the replaced certification to end.
  revoke: { from: ["certified"], to: "revoked", by: ["staff", "system"] },
};

export const TERMINAL_STATES: readonly RequestState[] = ["revoked", "withdrawn", "rejected"];

/** Human wording of each state, shared by the applicant's and the staff's pages. */
export const STATE_LABELS: Readonly<Record<RequestState, string>> = {
  submitted: "Submitted",
  in_review: "In review",
  changes_requested: "Changes requested",
  approved: "Approved",
  queued: "Waiting for signing",
  exported: "At the signing ceremony",
  certified: "Certified",
  revoked: "Revoked",
  withdrawn: "Withdrawn",
  rejected: "Rejected",
};

export type TransitionCheck =
  | { ok: true; to: RequestState }
  | { ok: false; reason: "not_allowed_from_state" | "not_allowed_for_actor"; message: string };

export function checkTransition(from: RequestState | null, event: RequestEvent, actor: Actor): TransitionCheck {
  const transition = TRANSITIONS[event];
  if (!transition.by.includes(actor)) {
    return { ok: false, reason: "not_allowed_for_actor", message: `Only ${transition.by.join(" or ")} can ${describe(event)}.` };
  }
  if (!transition.from.includes(from)) {
    const state = from === null ? "new" : STATE_LABELS[from].toLowerCase();
    return {
      ok: false,
      reason: "not_allowed_from_state",
      message: `This request is ${state}, so it can no longer be ${PAST_TENSE[event]}. Reload the page to see its current state.`,
    };
  }
  return { ok: true, to: transition.to };
}

export function isRequestState(value: string): value is RequestState {
  return (REQUEST_STATES as readonly string[]).includes(value);
}

/** Events an actor may take from a state, e.g. to decide which buttons a page shows. */
export function availableEvents(from: RequestState, actor: Actor): RequestEvent[] {
  return (Object.keys(TRANSITIONS) as RequestEvent[]).filter((event) => checkTransition(from, event, actor).ok);
}

const PAST_TENSE: Readonly<Record<RequestEvent, string>> = {
  submit: "submitted",
  start_review: "taken into review",
  request_changes: "sent back for changes",
  resubmit: "resubmitted",
  approve: "approved",
  reject: "rejected",
  withdraw: "withdrawn",
  enqueue: "queued for signing",
  export: "exported",
  cancel_export: "returned to the queue",
  decline: "declined",
  certify: "certified",
  revoke: "revoked",
};

function describe(event: RequestEvent): string {
  return event.replace("_", " ");
}
