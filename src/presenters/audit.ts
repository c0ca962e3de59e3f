import type { ChainVerdict } from "../core/audit-chain.ts";
import { formatFingerprint } from "../core/key-policy.ts";
import { STATE_LABELS, isRequestState } from "../core/request-lifecycle.ts";
import type { FormProblem } from "../errors.ts";
import type { AuditPageRow } from "../repositories/audit-log.ts";
import { describeVerdict } from "../services/audit-verify.ts";
import { actionLabel, AUDIT_ACTION_GROUPS, describeAction } from "./audit-actions.ts";
import { formatDateTime } from "./helpers.ts";
import { fingerprintHalves } from "./request-list.ts";

/** The filter as the page's form sent it (strings, "" when unset). */
export interface AuditQuery {
  action?: string;
  actor?: string;
  requestId?: string;
  from?: string;
  to?: string;
}

const DETAIL_LABELS: Readonly<Record<string, string>> = {
  batch: "Batch", revision: "Revision", approvals: "Approvals", required: "Approvals needed", reason: "Reason", reasonCode: "Reason code",
  userIds: "User IDs", fingerprint: "Key", agreementSha256: "Agreement SHA-256", agreementFileName: "Agreement file", sha256: "SHA-256",
  resultSha256: "Result SHA-256", fileSha256: "File SHA-256", fileBytes: "File size (bytes)", items: "Items", expiresAt: "Expires",
  held: "Held back", certified: "Certified", revoked: "Revoked", declined: "Declined", code: "Error code", message: "Message",
  problemCount: "Problems", problems: "Problems found", email: "Email", roles: "Roles", from: "Before", to: "After", via: "Through",
  invitedBy: "Invited by", address: "Address", method: "Method", keyserver: "Keyserver", attempts: "Attempts", source: "Source",
  changes: "Changes", stripped: "Left out", noteId: "Note", linkId: "Link", revocationId: "Revocation", pushId: "Push", staffId: "Staff account",
  approvalsRequired: "Approvals needed", certificationValidityDays: "Certification valid for (days)", openRequestsPerApplicant: "Open requests per applicant",
  policyUrl: "Policy URL", organisationName: "Organisation", certificationDomain: "Notation domain", masterFingerprint: "Master key",
};

const MAX_VALUE = 300;
const FINGERPRINT = /^[0-9A-F]{40}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

function humanise(key: string): string {
  const words = key.replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/_/g, " ").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function clip(text: string): string {
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
}

/** One value of an event's data in words: fingerprints grouped, times as everywhere else, nothing as JSON. */
function formatValue(value: unknown): string {
  if (value === null || value === undefined || value === "") return "none";
  if (typeof value === "string") {
    if (FINGERPRINT.test(value)) return formatFingerprint(value);
    if (ISO_TIME.test(value) && !Number.isNaN(Date.parse(value))) return formatDateTime(new Date(value));
    return clip(value);
  }
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return value.length === 0 ? "none" : clip(value.map(formatValue).join("; "));
  if (typeof value === "object") {
    const entries = Object.entries(value);
    const change = Object.fromEntries(entries);
    if (entries.length === 2 && "from" in change && "to" in change) return `${formatValue(change.from)} → ${formatValue(change.to)}`;
    return clip(entries.map(([k, v]) => `${DETAIL_LABELS[k] ?? humanise(k)}: ${formatValue(v)}`).join(", "));
  }
  return clip(String(value));
}

function parseData(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? Object.fromEntries(Object.entries(parsed)) : {};
  } catch {
    return {};
  }
}

function stateLabel(state: string | null): string {
  if (state === null) return "New";
  return isRequestState(state) ? STATE_LABELS[state] : state;
}

function details(row: AuditPageRow, data: Record<string, unknown>) {
  const transition = row.fromState || row.toState ? [{ label: "State", value: `${stateLabel(row.fromState)} → ${stateLabel(row.toState)}` }] : [];
  // Internal ids (of a note, a link, a push) tell a reader nothing; the CSV export keeps them.
  const fields = Object.entries(data).filter(([key, value]) => !(key.endsWith("Id") && typeof value === "string" && UUID.test(value))).map(([key, value]) => ({ label: DETAIL_LABELS[key] ?? humanise(key), value: formatValue(value) }));
  return [...transition, ...fields, ...(row.ip ? [{ label: "IP address", value: row.ip }] : [])];
}

function actorOf(row: AuditPageRow): { name: string; filter: string | null } {
  if (row.actorName) return { name: row.actorName, filter: row.actorName };
  if (row.actorType === "system") return { name: "system", filter: "system" };
  return { name: row.actorType === "applicant" ? "an applicant (account removed)" : "a former staff account", filter: row.actorId };
}

function eventRow(row: AuditPageRow) {
  const data = parseData(row.data);
  const actor = actorOf(row);
  return {
    seq: row.seq,
    date: row.at.toISOString().slice(0, 10),
    time: `${row.at.toISOString().slice(11, 16)} UTC`,
    actor: actor.name,
    actorLink: actor.filter ? `/admin/audit?${new URLSearchParams({ actor: actor.filter }).toString()}` : null,
    story: describeAction(row.action, data),
    action: row.action,
    request: row.requestId
      ? { id: row.requestId, applicantEmail: row.request?.applicantEmail ?? "an unknown applicant", fingerprint: row.request ? fingerprintHalves(row.request.fingerprint) : null }
      : null,
    details: details(row, data),
  };
}

function actionChoices(selected: string) {
  return AUDIT_ACTION_GROUPS.map((group) => ({
    label: group.label,
    options: [
      { value: group.prefix, label: findActionLabel(group.prefix), selected: selected === group.prefix },
      ...Object.entries(group.actions).map(([code, entry]) => ({ value: code, label: actionLabel(entry), selected: selected === code })),
    ],
  }));
}

function actorChoices(selected: string, staffEmails: readonly string[]) {
  const kinds = [
    { value: "system", label: "The system (scheduled work)" },
    { value: "applicants", label: "Any applicant" },
    { value: "staff", label: "Any staff member" },
  ];
  const known = new Set([...kinds.map((k) => k.value), ...staffEmails]);
  // Someone chosen by following a link from an event (an applicant, say) stays chosen.
  const extra = selected && !known.has(selected) ? [{ value: selected, label: selected }] : [];
  return {
    kinds: [...kinds, ...extra].map((k) => ({ ...k, selected: k.value === selected })),
    staff: staffEmails.map((email) => ({ value: email, label: email, selected: email === selected })),
  };
}

function actorWords(actor: string): string {
  return { system: "the system", applicants: "an applicant", staff: "a staff member" }[actor] ?? actor;
}

/** Why nothing is listed, naming each filter so the person can see which one to widen. */
function emptyMessage(filters: AuditQuery, requestLabel: string | null): string {
  const action = filters.action ? findActionLabel(filters.action) : null;
  const parts = [
    action ? `of the kind “${action}”` : "",
    filters.actor ? `by ${actorWords(filters.actor)}` : "",
    filters.requestId ? `about ${requestLabel ?? "the chosen request"}` : "",
    filters.from && filters.to ? `between ${filters.from} and ${filters.to}` : filters.from ? `on or after ${filters.from}` : filters.to ? `on or before ${filters.to}` : "",
  ].filter(Boolean);
  if (parts.length === 0) return "The audit log is empty: nothing has happened yet.";
  return `No event ${parts.join(" ")} is recorded. Choose a wider date range, “Anything” or “Anyone”, or clear the filters.`;
}

function findActionLabel(value: string): string {
  for (const group of AUDIT_ACTION_GROUPS) {
    if (group.prefix === value) return `Anything about ${group.label.toLowerCase()}`;
    const entry = group.actions[value];
    if (entry !== undefined) return actionLabel(entry);
  }
  return value;
}

export function auditPageModel(input: {
  rows: AuditPageRow[];
  total: number;
  page: number;
  pages: number;
  query: AuditQuery;
  verdict: ChainVerdict;
  staffEmails: readonly string[];
  request: { applicantEmail: string; fingerprint: string } | null;
  problems?: FormProblem[];
}) {
  const filters = Object.fromEntries(Object.entries(input.query).filter(([, v]) => typeof v === "string" && v !== "")) as Record<string, string>;
  const link = (page: number) => new URLSearchParams({ ...filters, page: String(page) }).toString();
  const withoutRequest = new URLSearchParams(Object.entries(filters).filter(([k]) => k !== "requestId")).toString();
  const requestLabel = input.request ? `the request by ${input.request.applicantEmail}` : null;
  return {
    title: "Audit log",
    chainOk: input.verdict.ok,
    chainMessage: describeVerdict(input.verdict),
    filters,
    actions: actionChoices(filters.action ?? ""),
    actors: actorChoices(filters.actor ?? "", input.staffEmails),
    requestFilter: filters.requestId
      ? { label: requestLabel ?? "a request that no longer exists", fingerprint: input.request ? formatFingerprint(input.request.fingerprint) : "", clear: `/admin/audit?${withoutRequest}` }
      : null,
    problems: input.problems ?? [],
    csvQuery: new URLSearchParams(filters).toString(),
    total: input.total,
    page: input.page,
    pages: input.pages,
    previous: input.page > 1 ? link(input.page - 1) : null,
    next: input.page < input.pages ? link(input.page + 1) : null,
    empty: emptyMessage(filters, requestLabel),
    filtered: Object.keys(filters).length > 0,
    rows: input.rows.map(eventRow),
  };
}
