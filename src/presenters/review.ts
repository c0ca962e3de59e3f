import { describePastRevocation, keyEndedApprovalMessage, keyEndingRevocation, type KeyRevocationRecord } from "../core/key-history.ts";
import { REQUEST_STATES, STATE_LABELS, type RequestState } from "../core/request-lifecycle.ts";
import { DIGEST_HORIZON_DAYS } from "../core/expiry.ts";
import type { Settings } from "../core/settings.ts";
import type { FormProblem } from "../errors.ts";
import type { RequestDetail } from "../repositories/requests.ts";
import { type ReviewListItem, type StaffView } from "../repositories/review.ts";
import { formatFingerprint } from "../core/key-policy.ts";
import { formatBytes, formatDateTime, keySummary, requestStateView } from "./helpers.ts";

function listItem(item: ReviewListItem, now: Date) {
  return {
    id: item.id,
    ...requestStateView(item.state, item.certificationExpiresAt, now),
    applicantEmail: item.applicantEmail,
    fingerprint: formatFingerprint(item.fingerprint),
    userIds: item.userIds,
    waiting: waitingFor(item.updatedAt, now),
  };
}

export function waitingFor(since: Date, now: Date): string {
  const hours = Math.max(0, Math.floor((now.getTime() - since.getTime()) / 3_600_000));
  if (hours < 1) return "less than an hour";
  if (hours < 48) return `${hours} hour${hours === 1 ? "" : "s"}`;
  return `${Math.floor(hours / 24)} days`;
}

export function dashboardModel(input: {
  counts: Record<RequestState, number>;
  oldest: ReviewListItem | null;
  mine: ReviewListItem[];
  mail: Record<string, number>;
  /** Certifications expiring within the digest's horizon, and when the expiry check last ran. */
  expiring: { count: number; lastRun: Date | null };
  now: Date;
}) {
  return {
    title: "Dashboard",
    counts: REQUEST_STATES.map((state) => ({ state, label: STATE_LABELS[state], count: input.counts[state] })),
    oldest: input.oldest ? listItem(input.oldest, input.now) : null,
    // Mail the worker gave up on must be seen by staff: someone may be waiting for it.
    mail: { failed: input.mail.failed ?? 0, waiting: (input.mail.pending ?? 0) + (input.mail.sending ?? 0) },
    mine: input.mine.map((item) => listItem(item, input.now)),
    expiring: { count: input.expiring.count, horizon: DIGEST_HORIZON_DAYS, lastRun: input.expiring.lastRun ? formatDateTime(input.expiring.lastRun) : "never" },
  };
}

const STAFF_EVENT_LABELS: Record<string, string> = {
  "request.submit": "Submitted by the applicant",
  "request.resubmit": "Revised by the applicant",
  "request.withdraw": "Withdrawn by the applicant",
  "request.start_review": "Review started",
  "request.approval": "Approved (quorum not yet reached)",
  "request.approve": "Approved: quorum reached",
  "request.enqueue": "Queued for signing",
  "request.reject": "Rejected",
  "request.request_changes": "Changes requested",
  "request.note": "Internal note added",
  "request.revoke": "Certification revoked",
  "revocation.propose": "Revocation proposed",
  "revocation.approve": "Revocation approved",
  "revocation.queue": "Revocation approved: waiting for the signing ceremony",
  "revocation.withdraw": "Revocation proposal withdrawn",
  "key.owner_update": "Published key updated by its owner",
};

export function staffRequestModel(input: {
  detail: RequestDetail;
  view: StaffView;
  settings: Settings;
  staffId: string;
  now: Date;
  /** Applied revocations of this key on other requests, oldest first. */
  keyHistory?: readonly KeyRevocationRecord[];
  problems?: FormProblem[];
}) {
  const { detail, view } = input;
  const keyHistory = keyHistoryModel(input.keyHistory ?? []);
  const key = detail.keys[0];
  const agreement = detail.agreements[0];
  const approvedByMe = view.approvals.some((a) => a.staffId === input.staffId);
  return {
    title: "Review request",
    id: detail.id,
    version: detail.version,
    ...requestStateView(detail.state, detail.certificationExpiresAt, input.now),
    applicantEmail: view.applicantEmail,
    addresses: view.addresses,
    licence: detail.licence,
    projectUrls: detail.projectUrls,
    attestations: ["Modules are open source under the chosen licence", "No commercial modules will be signed", "The agreement was read and signed"],
    key: key && {
      ...keySummary(key.facts, key.warnings),
      sha256: key.canonicalSha256,
      userIds: key.facts.userIds.map((u) => ({
        userId: u.userId,
        requested: key.certifyUserIds.includes(u.userId),
        confirmed: u.email !== null && view.addresses.some((a) => a.confirmed && a.address === u.email),
      })),
      revision: key.revision,
    },
    agreement: agreement && {
      id: agreement.id,
      fileName: agreement.fileName,
      sha256: agreement.sha256,
      size: formatBytes(agreement.size),
      signer: formatFingerprint(agreement.signerFingerprint),
      signerIsPrimary: key ? agreement.signerFingerprint === key.fingerprint : false,
    },
    approvals: view.approvals.map((a) => ({ staffEmail: a.staffEmail, at: formatDateTime(a.at) })),
    approvalsRequired: input.settings.approvalsRequired,
    keyHistory,
    approvedByMe,
    notes: view.notes.map((n) => ({ staffEmail: n.staffEmail, body: n.body, at: formatDateTime(n.at) })),
    timeline: detail.timeline.map((e) => ({
      at: formatDateTime(e.at),
      label: STAFF_EVENT_LABELS[e.action] ?? e.action,
      who: e.actorType === "staff" ? (e.actorId ? view.actors.get(e.actorId) ?? "staff" : "staff") : e.actorType,
      toState: e.toState && e.toState in STATE_LABELS ? STATE_LABELS[e.toState as RequestState] : null,
      reason: typeof e.data.reason === "string" ? e.data.reason : null,
    })),
    problems: input.problems ?? [],
  };
}

/** The warning panel at the top of the staff request page: every earlier revocation of this key. */
function keyHistoryModel(history: readonly KeyRevocationRecord[]) {
  if (history.length === 0) return null;
  const ended = keyEndingRevocation(history);
  return {
    ended: ended ? keyEndedApprovalMessage(ended) : null,
    revocations: history.map((revocation) => ({ ...describePastRevocation(revocation), link: `/admin/requests/${revocation.requestId}` })),
  };
}
