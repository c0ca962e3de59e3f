import type { RequestState } from "../core/request-lifecycle.ts";
import { formatFingerprint } from "../core/key-policy.ts";
import type { RequestDetail } from "../repositories/requests.ts";
import type { TimelineEntry } from "../repositories/audit.ts";

export interface TrackerInput {
  id: string;
  state: RequestState;
  /** Approvals of the current revision, and how many the quorum setting asks for. */
  approvals: number;
  required: number;
  timeline: readonly TimelineEntry[];
  /** The operator's words for when ceremonies happen; empty when not set. */
  schedule: string;
}

type StepStatus = "done" | "current" | "todo";

const STEP_NAMES = ["Submitted", "In review", "Signing ceremony", "Certified"] as const;

/** Which of the four steps each state has reached; end states that leave the path show no current step. */
const STEP_REACHED: Readonly<Record<RequestState, number>> = {
  submitted: 1,
  in_review: 1,
  changes_requested: 1,
  approved: 2,
  queued: 2,
  exported: 2,
  certified: 4,
  revoked: 4,
  withdrawn: -1,
  rejected: -1,
};

/** The applicant's view of where a request stands: the steps, the next step, and a banner for end states. */
export function statusTrackerModel(input: TrackerInput) {
  const reached = STEP_REACHED[input.state];
  return {
    steps: reached < 0 ? [] : STEP_NAMES.map((name, index) => ({ name, status: stepStatus(index, reached), detail: stepDetail(index, reached, input) })),
    next: nextStep(input),
    banner: banner(input),
  };
}

function stepStatus(index: number, reached: number): StepStatus {
  if (index < reached || reached === STEP_NAMES.length) return "done";
  return index === reached ? "current" : "todo";
}

function stepDetail(index: number, reached: number, input: TrackerInput): string | null {
  // A revision starts the approvals again, so a count beside "changes requested" would mislead.
  if (index === 1 && input.state === "changes_requested") return "Changes requested";
  if (index === 1 && reached === 1) return `${input.approvals} of ${input.required} approvals`;
  if (index === 2 && reached === 2) return input.state === "exported" ? "At the ceremony now" : "Waiting for the next ceremony";
  return null;
}

function nextStep({ state, approvals, required, schedule }: TrackerInput): string | null {
  switch (state) {
    case "submitted":
    case "in_review": {
      const missing = Math.max(required - approvals, 0);
      return `Staff review your key and agreement: ${missing} more ${missing === 1 ? "approval is" : "approvals are"} needed. You do not need to do anything; we email you when they decide.`;
    }
    case "changes_requested":
      return "Staff asked for changes. Read their reason in the timeline below, then revise the request.";
    case "approved":
    case "queued":
      return `Approved. Your key will be signed at the next signing ceremony${scheduleSentence(schedule)}; we email you when it is certified.`;
    case "exported":
      return "Your key is at the signing ceremony now. We email you when it is certified.";
    case "certified":
      return "Certified. Download the certified key below and import it into GnuPG.";
    default:
      return null;
  }
}

function banner({ state, timeline }: TrackerInput): { kind: "warning" | "error"; text: string; reason: string | null; startNew: boolean } | null {
  if (state === "withdrawn") return { kind: "warning", text: "You withdrew this request. Staff will not review it and it will not be signed.", reason: null, startNew: true };
  if (state === "rejected") return { kind: "error", text: "Staff rejected this request.", reason: lastReason(timeline, "request.reject"), startNew: true };
  if (state === "in_review" && lastTransition(timeline)?.action === "request.decline") {
    return {
      kind: "warning",
      text: "The signer returned this request at the signing ceremony instead of certifying it. Staff will review it again; earlier approvals no longer count.",
      reason: lastReason(timeline, "request.decline"),
      startNew: false,
    };
  }
  return null;
}

function lastTransition(timeline: readonly TimelineEntry[]): TimelineEntry | undefined {
  return timeline.findLast((entry) => entry.toState !== null && entry.action.startsWith("request."));
}

function lastReason(timeline: readonly TimelineEntry[], action: string): string | null {
  const reason = timeline.findLast((entry) => entry.action === action)?.data.reason;
  return typeof reason === "string" && reason !== "" ? reason : null;
}

/** The page right after submitting: what happens next, with the review quorum from the settings. */
export function requestSubmittedModel(detail: RequestDetail, required: number, schedule: string) {
  return {
    schedule: schedule === "" ? null : `Signing ceremonies are held ${schedule}.`,
    title: "Request received",
    id: detail.id,
    fingerprint: formatFingerprint(detail.keys[0]?.fingerprint ?? ""),
    reviewText: required === 1
      ? "One staff member checks your key and your signed agreement and approves the request."
      : `${required} different staff members check your key and your signed agreement; the request goes ahead once all ${required} have approved it.`,
  };
}

function scheduleSentence(schedule: string): string {
  return schedule === "" ? "" : ` (signing ceremonies are held ${schedule})`;
}
