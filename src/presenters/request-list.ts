import { approvalsRequiredOf } from "../core/settings.ts";
import { REQUEST_STATES, STATE_LABELS, type RequestState } from "../core/request-lifecycle.ts";
import { requestWarnings } from "../core/request-warnings.ts";
import { REQUEST_LIST_PAGE_SIZE, type StaffListFilter, type StaffListItem } from "../repositories/request-list.ts";
import { requestStateView } from "./helpers.ts";
import { waitingFor } from "./review.ts";

/** States in which approvals are still being collected: the row shows how many so far. */
const COLLECTING: readonly RequestState[] = ["submitted", "in_review"];

/**
 * A fingerprint as two halves of five groups of four: each half never wraps inside itself, so
 * the fingerprint takes one line where there is room and two where there is not, never three.
 */
export function fingerprintHalves(fingerprint: string): [string, string] {
  const groups = fingerprint.replace(/\s+/g, "").toUpperCase().match(/.{1,4}/g) ?? [];
  return [groups.slice(0, 5).join(" "), groups.slice(5).join(" ")];
}

function listRow(item: StaffListItem, quorum: { approvalsRequired: number; renewalApprovalsRequired: number }, now: Date) {
  const collecting = COLLECTING.includes(item.state);
  const required = approvalsRequiredOf(quorum, item.renewal);
  return {
    id: item.id,
    ...requestStateView(item.state, item.certificationExpiresAt, now),
    applicantEmail: item.applicantEmail,
    fingerprint: fingerprintHalves(item.fingerprint),
    userIds: item.userIds,
    waiting: waitingFor(item.updatedAt, now),
    approvals: collecting ? { count: item.approvals, required } : null,
    warnings: requestWarnings(item, now),
  };
}

export function staffRequestListModel(input: {
  items: StaffListItem[];
  total: number;
  filter: StaffListFilter;
  /** Only reviewers approve, so only they get the "Needs my approval" choice. */
  mayReview: boolean;
  needsMyApproval: number | null;
  counts: Record<RequestState, number>;
  approvalsRequired: number;
  renewalApprovalsRequired: number;
  now: Date;
}) {
  const { filter } = input;
  const pages = Math.max(1, Math.ceil(input.total / REQUEST_LIST_PAGE_SIZE));
  const shown = filter.show === "mine" ? "mine" : filter.state ?? "";
  const query = (page: number) => new URLSearchParams({ state: shown, ...(filter.query ? { q: filter.query } : {}), page: String(page) }).toString();
  const choices = [
    ...(input.mayReview ? [{ value: "mine", label: "Needs my approval", count: input.needsMyApproval ?? 0 }] : []),
    { value: "", label: "All requests", count: Object.values(input.counts).reduce((sum, n) => sum + n, 0) },
    ...REQUEST_STATES.map((state) => ({ value: state, label: STATE_LABELS[state], count: input.counts[state] })),
  ].map((choice) => ({ ...choice, checked: choice.value === shown, id: `show-${choice.value || "all"}` }));
  return {
    title: filter.show === "mine" ? "Requests that need my approval" : "Requests",
    items: input.items.map((item) => listRow(item, input, input.now)),
    total: input.total,
    mine: filter.show === "mine",
    q: filter.query ?? "",
    choices,
    empty: emptyMessage(filter),
    page: filter.page,
    pages,
    previous: filter.page > 1 ? query(filter.page - 1) : null,
    next: filter.page < pages ? query(filter.page + 1) : null,
  };
}

/** Why the list is empty, in words that say what to try next. */
function emptyMessage(filter: StaffListFilter): string {
  if (filter.show === "mine" && filter.query) return `No request that needs your approval matches “${filter.query}”. Choose “All requests” to search them all.`;
  if (filter.show === "mine") return "Nothing needs your approval: every request waiting for review is your own or has your approval. Choose “All requests” to see the others.";
  const where = filter.state ? `in the state “${STATE_LABELS[filter.state]}”` : "";
  if (filter.query) return `No request ${where ? `${where} ` : ""}matches “${filter.query}”. Search by a fingerprint (16 or more hex digits), an email address or a name, or choose “All requests”.`;
  return where ? `No request is ${where}.` : "There are no requests yet.";
}
