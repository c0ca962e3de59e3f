import { availableEvents, type RequestState } from "../core/request-lifecycle.ts";
import { formatFingerprint } from "../core/key-policy.ts";
import type { FormProblem } from "../errors.ts";
import type { TimelineEntry } from "../repositories/audit.ts";
import type { NextRequest } from "../repositories/next-request.ts";
import { waitingFor } from "./review.ts";

/** What a reviewer just did, as the redirect after the decision names it (`?decided=`). */
export const DECISIONS = ["approved", "changes-requested", "rejected"] as const;
export type Decision = (typeof DECISIONS)[number];

/** Why a reviewer cannot decide now, by state: the panel says what the request waits for instead. */
const CLOSED: Partial<Record<RequestState, string>> = {
  changes_requested: "Waiting for the applicant's revision. The request comes back here when they send it, and needs fresh approvals then. You can still reject it.",
  approved: "Approved. It waits for the next signing batch.",
  queued: "Approved. It waits for the next signing batch.",
  exported: "Approved. It is at the signing ceremony now.",
  certified: "Certified. To withdraw the certification, propose a revocation in the Certification section.",
  revoked: "The certification was revoked. Nothing more can be decided here.",
  withdrawn: "The applicant withdrew the request. Nothing more can be decided here.",
  rejected: "The request was rejected. Nothing more can be decided here.",
};

export interface DecisionPanelInput {
  state: RequestState;
  /** Whether the viewer's roles may decide (the decision routes' guard). */
  mayDecide: boolean;
  approvedByMe: boolean;
  /** The viewer applied for this request themselves: someone else has to approve it. */
  ownRequest: boolean;
  /** A revocation of this key ended it for good: no approval is possible. */
  keyEnded: boolean;
  /** Approvals of the current revision so far, and how many the quorum needs. */
  approvals: number;
  required: number;
  /** What the viewer typed into a decision's box before it was refused, by form. */
  reasons?: Partial<Record<"reject" | "request-changes", string>>;
}

/** The decision panel: which forms the viewer gets, and what it says when there are none. */
export function decisionPanelModel(input: DecisionPanelInput) {
  const events = availableEvents(input.state, "staff");
  const open = input.mayDecide && (events.includes("approve") || events.includes("reject"));
  return {
    mayDecide: input.mayDecide,
    open,
    canApprove: open && events.includes("approve") && !input.approvedByMe && !input.ownRequest && !input.keyEnded,
    approveHint: approveHint(input.approvals, input.required),
    canRequestChanges: open && events.includes("request_changes"),
    canReject: open && events.includes("reject"),
    approvedByMe: input.approvedByMe,
    ownRequest: input.ownRequest,
    closed: CLOSED[input.state] ?? null,
    changesReason: input.reasons?.["request-changes"] ?? "",
    rejectReason: input.reasons?.reject ?? "",
  };
}

/** What an approval by the viewer would do, said before they click. */
function approveHint(approvals: number, required: number): string {
  if (approvals + 1 >= required) return "Yours is the last approval needed: the request then goes to the signing queue and the applicant is emailed.";
  return `Yours would be approval ${approvals + 1} of ${required}; the request goes to signing once ${required} staff members have approved it.`;
}

export interface OutcomeInput {
  decided: Decision | undefined;
  state: RequestState;
  staffId: string;
  approvedByMe: boolean;
  approvals: number;
  required: number;
  timeline: readonly TimelineEntry[];
  next: NextRequest | null;
  now: Date;
}

/**
 * The banner after a decision: what happened, and the next request waiting for this reviewer.
 * It is drawn from the request as it is now, and only when the viewer did what the address
 * says, so an edited address or a later change by someone else shows no false news.
 */
export function decisionOutcomeModel(input: OutcomeInput) {
  const said = outcomeText(input);
  if (!said) return null;
  const next = input.next && {
    id: input.next.id,
    applicantEmail: input.next.applicantEmail,
    fingerprint: formatFingerprint(input.next.fingerprint),
    waiting: waitingFor(input.next.updatedAt, input.now),
  };
  return { ...said, next };
}

function outcomeText(input: OutcomeInput): { title: string; detail: string } | null {
  if (input.decided === "approved" && input.approvedByMe) {
    if (input.state === "submitted" || input.state === "in_review") {
      const missing = input.required - input.approvals;
      const who = missing === 1 ? "one more reviewer must" : `${missing} more reviewers must`;
      return { title: "You approved this request", detail: `${input.approvals} of ${input.required} approvals: ${who} approve it before it goes to signing.` };
    }
    if (input.state === "approved" || input.state === "queued") {
      return { title: "You approved this request", detail: "That was the last approval it needed: it is now queued for the next signing batch, and the applicant has been emailed." };
    }
    return null;
  }
  if (input.decided === "changes-requested" && decidedByViewer(input, "changes_requested")) {
    return { title: "You asked for changes", detail: "The applicant has been emailed your message. The request comes back for review when they send a revision, and needs fresh approvals then." };
  }
  if (input.decided === "rejected" && decidedByViewer(input, "rejected")) {
    return { title: "You rejected this request", detail: "The applicant has been emailed the reason. The request is closed: they would have to start a new one." };
  }
  return null;
}

/** The request is in `state`, and the viewer's decision is what put it there. */
function decidedByViewer(input: OutcomeInput, state: RequestState): boolean {
  if (input.state !== state) return false;
  const last = input.timeline.findLast((entry) => entry.toState !== null && entry.toState !== entry.fromState);
  return last?.toState === state && last.actorType === "staff" && last.actorId === input.staffId;
}

/**
 * A refused decision as the page shows it: a box left empty or too long is marked at its box;
 * anything else (a stale page, an approval already given, a key no longer valid) at the top of
 * the decision panel, which every state of the page has.
 */
export function decisionProblem(form: "approve" | "reject" | "request-changes", error: { statusCode: number; code: string; message: string }): FormProblem {
  const atBox = form !== "approve" && error.statusCode === 400;
  // The page answering the refusal already shows the request as it is now: no reload needed.
  const message = error.code === STALE_CODE ? STALE_ON_PAGE : error.message;
  return { field: atBox ? form : "decision", code: error.code, message };
}

const STALE_CODE = "KEYSIGN_ERR_STALE";
const STALE_ON_PAGE = "This request changed after you loaded the page, so your decision was not recorded. The page now shows it as it is: check it, then decide again.";

/** Staff may apply too: a request whose applicant confirmed the viewer's address is their own (the approval service refuses it). */
export function isOwnRequest(addresses: readonly { address: string; confirmed: boolean }[], staffEmail: string): boolean {
  const own = staffEmail.toLowerCase();
  return addresses.some((a) => a.confirmed && a.address === own);
}
