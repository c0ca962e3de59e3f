import QRCode from "qrcode";
import { ROLE_LABELS, STAFF_ROLES, type StaffRole } from "../core/roles.ts";
import { otpauthUri } from "../core/totp.ts";
import type { FormProblem } from "../errors.ts";
import type { StaffLinkPurpose, StaffLinkRow, StaffRow } from "../repositories/staff.ts";
import { formatDate, formatDateTime } from "./helpers.ts";

/** The name authenticator apps show next to the account. */
export const TOTP_ISSUER = "Keysign";

type Problems = Array<Pick<FormProblem, "field" | "message">>;

export function roleNames(roles: readonly StaffRole[]): string {
  return roles.map((role) => ROLE_LABELS[role]).join(", ") || "no role";
}

/** Checkboxes for the roles, ticked as given. */
/** What each role lets a person do, shown beside its checkbox wherever roles are chosen. */
const ROLE_DESCRIPTIONS: Readonly<Record<StaffRole, string>> = {
  reviewer: "Reads requests and their agreements, approves, rejects or asks for changes, and proposes revocations.",
  signing_officer: "Exports approved requests as batches for the offline signing machine and imports the signed results.",
  admin: "Invites and manages staff, changes settings and the master key, and reads the audit log and publication status.",
};

export function roleChoices(selected: readonly StaffRole[]) {
  return STAFF_ROLES.map((role) => ({ value: role, label: ROLE_LABELS[role], description: ROLE_DESCRIPTIONS[role], checked: selected.includes(role) }));
}

export function loginModel(input: { email?: string; problems?: Problems } = {}) {
  return { title: "Staff sign-in", email: input.email ?? "", problems: input.problems ?? [] };
}

export function secondFactorModel(problems: Problems = []) {
  return { title: "Second factor", problems };
}

/** The enrolment page: the secret as text (grouped for typing) and as a QR code drawn here, never by a third party. */
export async function enrolmentModel(input: { email: string; secret: string }, problems: Problems = []) {
  const uri = otpauthUri({ secret: input.secret, account: input.email, issuer: TOTP_ISSUER });
  const svg = await QRCode.toString(uri, { type: "svg", errorCorrectionLevel: "M", margin: 2 });
  return {
    title: "Set up your authenticator app",
    email: input.email,
    secretGroups: input.secret.replace(/(.{4})(?!$)/g, "$1 "),
    qrDataUrl: `data:image/svg+xml;base64,${Buffer.from(svg, "utf8").toString("base64")}`,
    otpauthUri: uri,
    problems,
  };
}

export function recoveryCodesModel(codes: readonly string[]) {
  const codesText = codes.join("\n");
  const file = `Keysign recovery codes. Each signs you in once in place of a code from the authenticator app.\n\n${codesText}\n`;
  return { title: "Your recovery codes", codes, codesText, codesDownload: `data:text/plain;charset=utf-8,${encodeURIComponent(file)}` };
}

const ACCEPT_PATHS: Record<StaffLinkPurpose, string> = { "staff-setup": "/admin/setup", "staff-invite": "/admin/invite" };

export function acceptLinkModel(link: StaffLinkRow, token: string, input: { email?: string; problems?: Problems } = {}) {
  return {
    title: link.purpose === "staff-setup" ? "Create a staff account" : "Join the Keysign staff",
    action: ACCEPT_PATHS[link.purpose],
    token,
    fixedEmail: link.address,
    email: input.email ?? "",
    roles: roleNames(link.roles),
    invited: link.purpose === "staff-invite",
    problems: input.problems ?? [],
  };
}

function staffSummary(row: StaffRow, meId: string) {
  return {
    id: row.id,
    email: row.email,
    roles: roleNames(row.roles),
    status: row.disabledAt ? "Disabled" : row.totpEnrolledAt ? "Active" : "Second factor not set up",
    disabled: row.disabledAt !== null,
    me: row.id === meId,
    since: formatDate(row.createdAt),
  };
}

/** Notices after an action, by a fixed key: nothing typed by anyone reaches the page this way. */
export const STAFF_NOTICES = {
  invited: "Invitation sent.",
  revoked: "Invitation revoked.",
  roles: "Roles saved.",
  disabled: "Account disabled; its sessions have ended.",
  enabled: "Account enabled again.",
  reset: "Second factor reset: the next sign-in sets up a new authenticator app and recovery codes.",
} as const;
export type StaffNotice = keyof typeof STAFF_NOTICES;

export function isStaffNotice(value: string | undefined): value is StaffNotice {
  return value !== undefined && Object.hasOwn(STAFF_NOTICES, value);
}

export function staffListModel(
  overview: { staff: StaffRow[]; invites: StaffLinkRow[] },
  meId: string,
  extra: { notice?: StaffNotice; inviteId?: string; email?: string; roles?: StaffRole[]; problems?: Problems } = {},
) {
  const sent = extra.notice === "invited" ? overview.invites.find((link) => link.id === extra.inviteId) : undefined;
  return {
    title: "Staff",
    members: overview.staff.map((row) => staffSummary(row, meId)),
    invites: overview.invites.map((link) => ({ id: link.id, email: link.address, roles: roleNames(link.roles), expires: formatDateTime(link.expiresAt) })),
    notice: sent ? `Invitation sent to ${sent.address}. The link works once and expires ${formatDateTime(sent.expiresAt)}.` : extra.notice ? STAFF_NOTICES[extra.notice] : null,
    email: extra.email ?? "",
    // Nothing is ticked: whoever invites chooses each role on purpose.
    roleChoices: roleChoices(extra.roles ?? []),
    problems: extra.problems ?? [],
  };
}

export function staffDetailModel(row: StaffRow, meId: string, extra: { notice?: StaffNotice; roles?: StaffRole[]; problems?: Problems } = {}) {
  return {
    title: row.email,
    member: {
      ...staffSummary(row, meId),
      enrolled: row.totpEnrolledAt !== null,
      enrolledOn: formatDate(row.totpEnrolledAt),
      disabledOn: formatDate(row.disabledAt),
    },
    roleChoices: roleChoices(extra.roles ?? row.roles),
    notice: extra.notice ? STAFF_NOTICES[extra.notice] : null,
    problems: extra.problems ?? [],
  };
}
