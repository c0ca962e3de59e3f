import { availableEvents, STATE_LABELS, type RequestState } from "../core/request-lifecycle.ts";
import { GPL_COMPATIBLE_LICENCES } from "../core/submission.ts";
import type { FormProblem } from "../errors.ts";
import type { TimelineEntry } from "../repositories/audit.ts";
import type { RequestDetail, RequestSummary } from "../repositories/requests.ts";
import type { CheckedKey } from "../services/requests.ts";
import { formatFingerprint } from "../core/key-policy.ts";
import { formatBytes, formatDate, formatDateTime, keySummary, requestStateView } from "./helpers.ts";

export function requestListModel(requests: RequestSummary[], now: Date) {
  return {
    title: "My requests",
    requests: requests.map((r) => ({
      id: r.id,
      ...requestStateView(r.state, r.certificationExpiresAt, now),
      fingerprint: formatFingerprint(r.fingerprint),
      userIds: r.userIds,
      created: formatDate(r.createdAt),
      updated: formatDateTime(r.updatedAt),
    })),
  };
}

/** What the applicant sees of a timeline event. Staff-internal data never reaches this model. */
const EVENT_LABELS: Record<string, string> = {
  "request.submit": "You submitted the request",
  "request.start_review": "Staff started the review",
  "request.request_changes": "Staff asked for changes",
  "request.resubmit": "You sent a revised key or agreement",
  "request.approve": "Approved by staff",
  "request.reject": "Rejected by staff",
  "request.withdraw": "You withdrew the request",
  "request.enqueue": "Queued for the signing ceremony",
  "request.export": "Sent to the offline signing ceremony",
  "request.cancel_export": "Returned to the signing queue",
  "request.decline": "Returned to review by the signing officer",
  "request.certify": "Certified by the master key",
  "request.revoke": "Certification revoked",
  "key.owner_update": "You updated the published key",
  "request.renewal_requested": "You asked to renew the certification",
  "request.renewed": "Renewed: a new certification took over from this one",
};

/** Only the events listed above reach the applicant; staff notes and partial approvals stay internal. */
function timelineModel(entries: TimelineEntry[]) {
  return entries.filter((e) => e.action in EVENT_LABELS).map((e) => ({
    at: formatDateTime(e.at),
    label: EVENT_LABELS[e.action],
    toState: e.toState ? STATE_LABELS[e.toState as RequestState] ?? e.toState : null,
    reason: typeof e.data.reason === "string" ? e.data.reason : null,
  }));
}

export function requestDetailModel(detail: RequestDetail, now: Date) {
  const key = detail.keys[0];
  const agreement = detail.agreements[0];
  const events = availableEvents(detail.state, "applicant");
  return {
    title: "Certification request",
    id: detail.id,
    version: detail.version,
    ...requestStateView(detail.state, detail.certificationExpiresAt, now),
    canWithdraw: events.includes("withdraw"),
    canRevise: events.includes("resubmit"),
    licence: detail.licence,
    projectUrls: detail.projectUrls,
    key: key && {
      ...keySummary(key.facts, key.warnings),
      userIds: key.facts.userIds.map((u) => ({ userId: u.userId, certify: key.certifyUserIds.includes(u.userId), published: detail.publishedUserIds.includes(u.userId) })),
      certifyUserIds: key.certifyUserIds.map((userId) => ({ userId, published: detail.publishedUserIds.includes(userId) })),
      sha256: key.canonicalSha256,
    },
    agreement: agreement && {
      id: agreement.id,
      fileName: agreement.fileName,
      sha256: agreement.sha256,
      size: formatBytes(agreement.size),
    },
    history: detail.keys.length > 1 || detail.agreements.length > 1
      ? {
          keys: detail.keys.map((k) => ({ revision: k.revision, fingerprint: formatFingerprint(k.fingerprint), at: formatDateTime(k.createdAt) })),
          agreements: detail.agreements.map((a) => ({ id: a.id, revision: a.revision, fileName: a.fileName, sha256: a.sha256, at: formatDateTime(a.createdAt) })),
        }
      : null,
    timeline: timelineModel(detail.timeline),
  };
}

export interface DetailsFormValues {
  licence: string;
  projectUrls: string;
  attestOpenSource: boolean;
  attestNotCommercial: boolean;
  attestAgreement: boolean;
  certifyUserIds: string[];
  /** The certified user IDs the applicant agreed to publish; none unless they tick them. */
  publishUserIds: string[];
}

export const EMPTY_DETAILS: DetailsFormValues = {
  licence: "",
  projectUrls: "",
  attestOpenSource: false,
  attestNotCommercial: false,
  attestAgreement: false,
  certifyUserIds: [],
  publishUserIds: [],
};

/** Step two of the form: the checked key's facts, its user IDs to choose from, and the rest of the request. */
export function detailsFormModel(input: {
  checked: CheckedKey;
  values: DetailsFormValues;
  problems: FormProblem[];
  action: string;
  revising: boolean;
}) {
  const { checked, values } = input;
  return {
    title: input.revising ? "Revise your request" : "New certification request",
    action: input.action,
    revising: input.revising,
    problems: input.problems,
    armoredKey: checked.armored,
    key: keySummary(checked.facts, checked.warnings),
    userIds: checked.choices.map((choice) => ({
      ...choice,
      selected: values.certifyUserIds.includes(choice.userId),
      published: values.publishUserIds.includes(choice.userId),
    })),
    licences: GPL_COMPATIBLE_LICENCES.map((l) => ({ ...l, selected: l.id === values.licence })),
    values,
  };
}
