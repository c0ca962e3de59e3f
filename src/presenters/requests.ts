import { availableEvents, STATE_LABELS, type RequestState } from "../core/request-lifecycle.ts";
import { GPL_COMPATIBLE_LICENCES } from "../core/submission.ts";
import type { FormProblem, KeptFiles } from "../errors.ts";
import type { TimelineEntry } from "../repositories/audit.ts";
import type { RequestDetail, RequestSummary } from "../repositories/requests.ts";
import type { CheckedKey, RevisionStart } from "../services/requests.ts";
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
    changesReason: events.includes("resubmit") ? latestChangesReason(detail.timeline) : null,
    licence: detail.licence,
    projectUrls: detail.projectUrls,
    key: key && {
      ...keySummary(key.facts, key.warnings),
      userIds: key.facts.userIds.map((u) => ({ userId: u.userId, certify: key.certifyUserIds.includes(u.userId), published: detail.publishedUserIds.includes(u.userId) })),
      certifyUserIds: key.certifyUserIds.map((userId) => ({ userId, published: detail.publishedUserIds.includes(userId) })),
      sha256: key.canonicalSha256,
      certifyTag: certifyTagFor(detail.state),
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

/** The reviewer's words with the newest "changes requested". */
function latestChangesReason(timeline: TimelineEntry[]): string | null {
  const asked = timeline.filter((entry) => entry.action === "request.request_changes").at(-1);
  return typeof asked?.data.reason === "string" ? asked.data.reason : null;
}

/** What a chosen user ID's tag says: to be certified until the master key signed it. */
function certifyTagFor(state: RequestState): string {
  if (state === "certified") return "certified";
  if (state === "revoked") return "certification revoked";
  if (state === "rejected" || state === "withdrawn") return "not certified";
  return "to be certified";
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

/** Where the two steps of the form live: a new request, or a revision of `requestId`. */
export interface FormFlow {
  /** Step one's page, for "Change the key". */
  keyPage: string;
  keyAction: string;
  detailsAction: string;
  /** Step two shown again with the same values (after sending a confirmation link). */
  refreshAction: string;
  requestId: string | null;
}

/** Step one: the export command names the applicant's own address, the one thing the page knows. */
export function keyStepModel(flow: FormFlow, signInAddress: string) {
  const revising = flow.requestId !== null;
  return {
    title: revising ? "Replace the key of your request" : "New certification request",
    action: flow.keyAction,
    revising,
    backToRevision: revising ? `/requests/${flow.requestId}/revise` : null,
    exportCommand: `gpg --armor --export ${signInAddress} > key.asc`,
    signInAddress,
  };
}

/** The top of a revision's form: the reviewer's message and the agreement it keeps unless replaced. */
export function revisionModel(start: RevisionStart) {
  return {
    reason: start.reason,
    requestId: start.detail.id,
    agreement: start.agreement && { ...start.agreement, size: formatBytes(start.agreement.size), href: `/requests/${start.detail.id}/agreements/${start.agreement.id}` },
  };
}

/** Step two of the form: the checked key's facts, its user IDs to choose from, and the rest of the request. */
export function detailsFormModel(input: {
  checked: CheckedKey;
  values: DetailsFormValues;
  problems: FormProblem[];
  flow: FormFlow;
  /** On a revision: the reviewer's message and the current agreement. */
  revision: ReturnType<typeof revisionModel> | null;
  /** On a revision whose key was just replaced at step one. */
  replacingKey?: boolean;
  /** Files kept from the form's earlier try, and a notice when named files could not be used. */
  kept?: KeptFiles | null;
  notice?: string | null;
}) {
  const { checked, values, flow } = input;
  const kept = input.kept ?? null;
  const revising = flow.requestId !== null;
  return {
    title: revising ? "Revise your request" : "New certification request",
    action: flow.detailsAction,
    refreshAction: flow.refreshAction,
    keyPage: flow.keyPage,
    revising,
    revision: input.revision,
    replacingKey: input.replacingKey === true,
    problems: input.problems,
    armoredKey: checked.armored,
    key: { ...keySummary(checked.facts, checked.warnings), fingerprintHex: checked.facts.fingerprint.toUpperCase() },
    signCommand: `gpg --local-user ${checked.facts.fingerprint.toUpperCase()} --armor --detach-sign agreement.pdf`,
    userIds: checked.choices.map((choice) => ({
      ...choice,
      selected: values.certifyUserIds.includes(choice.userId),
      published: values.publishUserIds.includes(choice.userId),
    })),
    licences: GPL_COMPATIBLE_LICENCES.map((l) => ({ ...l, selected: l.id === values.licence })),
    values,
    kept: kept && {
      handle: kept.handle,
      agreement: kept.agreement && { fileName: kept.agreement.fileName, size: formatBytes(kept.agreement.size) },
      signature: kept.signature,
    },
    heldNotice: input.notice ?? null,
    agreementHint: kept?.agreement ? "agreement-kept" : "",
    signatureHint: kept?.signature ? "signature-kept" : "",
  };
}
