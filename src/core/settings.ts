import { normaliseAddress } from "./email-address.ts";

/**
 * Portal settings an admin can change. Each has a default, a parser that refuses bad
 * values with a message, and is stored as text in the Setting table.
 */
export interface Settings {
  approvalsRequired: number;
  certificationValidityDays: number;
  /** How many open requests (not yet certified, rejected or withdrawn) one applicant may have at a time. */
  openRequestsPerApplicant: number;
  policyUrl: string;
  /** Who certifies, as every published revocation names it ("Certification withdrawn by …"). */
  organisationName: string;
  /** The domain of the portal's notation names (`request@DOMAIN`); set before the first export. */
  certificationDomain: string;
  /** Where people write about security questions (a lost or exposed key, a request they did not send); empty: the mail sender's address. */
  contactAddress: string;
  /** The master public key, armored; empty until an admin uploads it. */
  masterPublicKey: string;
  masterFingerprint: string;
  /** Approvals a renewal needs (same key, user IDs and agreement as a certification in force). */
  renewalApprovalsRequired: number;
  /** The Key Signing Agreement text's version; raised by an admin when the template changes. */
  agreementVersion: number;
}

export const DEFAULT_SETTINGS: Settings = {
  approvalsRequired: 2,
  certificationValidityDays: 730,
  openRequestsPerApplicant: 3,
  policyUrl: "",
  organisationName: "",
  certificationDomain: "",
  contactAddress: "",
  masterPublicKey: "",
  masterFingerprint: "",
  renewalApprovalsRequired: 1,
  agreementVersion: 1,
};

export const SETTING_LIMITS = {
  approvalsRequired: { min: 1, max: 5 },
  certificationValidityDays: { min: 30, max: 3650 },
  openRequestsPerApplicant: { min: 1, max: 20 },
  renewalApprovalsRequired: { min: 1, max: 5 },
  agreementVersion: { min: 1, max: 1000 },
} as const;

export type SettingProblem = { field: keyof Settings; message: string };

export function parseApprovalsRequired(text: string): number | SettingProblem {
  const value = Number(text);
  const { min, max } = SETTING_LIMITS.approvalsRequired;
  if (!Number.isInteger(value) || value < min || value > max) {
    return { field: "approvalsRequired", message: `Approvals required must be a whole number from ${min} to ${max}.` };
  }
  return value;
}

export function parseValidityDays(text: string): number | SettingProblem {
  const value = Number(text);
  const { min, max } = SETTING_LIMITS.certificationValidityDays;
  if (!Number.isInteger(value) || value < min || value > max) {
    return { field: "certificationValidityDays", message: `The certification validity must be a whole number of days from ${min} to ${max}.` };
  }
  return value;
}

export function parseOpenRequestsPerApplicant(text: string): number | SettingProblem {
  const value = Number(text);
  const { min, max } = SETTING_LIMITS.openRequestsPerApplicant;
  if (!Number.isInteger(value) || value < min || value > max) {
    return { field: "openRequestsPerApplicant", message: `Open requests per applicant must be a whole number from ${min} to ${max}.` };
  }
  return value;
}

export function parsePolicyUrl(text: string): string | SettingProblem {
  const value = text.trim();
  if (value === "") return "";
  try {
    const url = new URL(value);
    // 200: what a batch carries (src/core/transfer/formats.ts); a longer one would be refused by every signer.
    if (url.protocol === "https:" && !url.username && !url.password && value.length <= 200) return value;
  } catch {
    // fall through to the message
  }
  return { field: "policyUrl", message: "The certification policy URL must be a full https:// address (or empty)." };
}

/** Printable text only: the name goes into every revocation a person reads with GnuPG. */
export function parseOrganisationName(text: string): string | SettingProblem {
  const value = text.trim();
  if (value.length <= 100 && !/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(value)) return value;
  return { field: "organisationName", message: "The organisation name must be plain text of at most 100 characters." };
}

/**
 * A public DNS name the organisation controls (RFC 4880 §5.2.3.16: notation names in the
 * user namespace are `name@domain`). Never a loopback or single-label name: certifications
 * are permanent, and `request@localhost` would say nothing about who made them.
 */
export function parseCertificationDomain(text: string): string | SettingProblem {
  const value = text.trim().toLowerCase();
  if (value === "") return "";
  const labels = value.split(".");
  const wellFormed = value.length <= 253 && labels.length >= 2 && labels.every((label) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(label));
  const local = labels.at(-1) === "localhost" || /^[0-9]+$/.test(labels.at(-1) ?? "");
  if (wellFormed && !local) return value;
  return { field: "certificationDomain", message: "The certification domain must be a public domain name the organisation controls, such as keys.example.org (not localhost or an IP address)." };
}

/** An address people can write to; stored lower-cased, as every address of the portal. */
export function parseContactAddress(text: string): string | SettingProblem {
  const value = text.trim();
  if (value === "") return "";
  const address = normaliseAddress(value);
  if (address !== null) return address;
  return { field: "contactAddress", message: "Enter the contact address as an email address, like security@example.org, or leave it empty." };
}

/**
 * The address of a sender such as `Keysign <keysign@example.org>` or `keysign@example.org`,
 * or null when it holds none the portal would accept from a user.
 */
export function senderAddress(from: string): string | null {
  const bracketed = /<([^<>]*)>\s*$/.exec(from);
  return normaliseAddress(bracketed ? (bracketed[1] ?? "") : from);
}

/**
 * The address shown for security questions: the setting, else the sender of the portal's
 * emails (where a reply to any of them goes anyway), else none.
 */
export function contactAddressOf(settings: Pick<Settings, "contactAddress">, mailFrom: string): string | null {
  return settings.contactAddress !== "" ? settings.contactAddress : senderAddress(mailFrom);
}

export function parseRenewalApprovalsRequired(text: string): number | SettingProblem {
  const value = Number(text);
  const { min, max } = SETTING_LIMITS.renewalApprovalsRequired;
  if (!Number.isInteger(value) || value < min || value > max) {
    return { field: "renewalApprovalsRequired", message: `Approvals required for a renewal must be a whole number from ${min} to ${max}.` };
  }
  return value;
}

/** The agreement version only goes up: a lower number would make requests signed under a newer text look current. */
export function parseAgreementVersion(text: string, current: number): number | SettingProblem {
  const value = Number(text);
  const { max } = SETTING_LIMITS.agreementVersion;
  if (!Number.isInteger(value) || value < current || value > max) {
    return { field: "agreementVersion", message: `The agreement version must be a whole number from ${current} (the current one) to ${max}. Raise it by one when the agreement's text changes.` };
  }
  return value;
}

/** Reads stored rows over the defaults; a malformed stored value falls back to its default. */
export function settingsFromRows(rows: ReadonlyArray<{ key: string; value: string }>): Settings {
  const stored = new Map(rows.map((row) => [row.key, row.value]));
  const approvals = parseApprovalsRequired(stored.get("approvalsRequired") ?? "");
  const validity = parseValidityDays(stored.get("certificationValidityDays") ?? "");
  const openRequests = parseOpenRequestsPerApplicant(stored.get("openRequestsPerApplicant") ?? "");
  const contact = parseContactAddress(stored.get("contactAddress") ?? "");
  return {
    approvalsRequired: typeof approvals === "number" ? approvals : DEFAULT_SETTINGS.approvalsRequired,
    certificationValidityDays: typeof validity === "number" ? validity : DEFAULT_SETTINGS.certificationValidityDays,
    openRequestsPerApplicant: typeof openRequests === "number" ? openRequests : DEFAULT_SETTINGS.openRequestsPerApplicant,
    policyUrl: stored.get("policyUrl") ?? DEFAULT_SETTINGS.policyUrl,
    organisationName: stored.get("organisationName") ?? DEFAULT_SETTINGS.organisationName,
    certificationDomain: stored.get("certificationDomain") ?? DEFAULT_SETTINGS.certificationDomain,
    contactAddress: typeof contact === "string" ? contact : DEFAULT_SETTINGS.contactAddress,
    masterPublicKey: stored.get("masterPublicKey") ?? "",
    masterFingerprint: stored.get("masterFingerprint") ?? "",
    ...renewalSettingsFromRows(stored),
  };
}

function renewalSettingsFromRows(stored: ReadonlyMap<string, string>): Pick<Settings, "renewalApprovalsRequired" | "agreementVersion"> {
  const renewalApprovals = parseRenewalApprovalsRequired(stored.get("renewalApprovalsRequired") ?? "");
  const agreementVersion = parseAgreementVersion(stored.get("agreementVersion") ?? "", 1);
  return {
    renewalApprovalsRequired: typeof renewalApprovals === "number" ? renewalApprovals : DEFAULT_SETTINGS.renewalApprovalsRequired,
    agreementVersion: typeof agreementVersion === "number" ? agreementVersion : DEFAULT_SETTINGS.agreementVersion,
  };
}

/** The approvals a request needs: a renewal has its own quorum, every other request the usual one. */
export function approvalsRequiredOf(settings: Pick<Settings, "approvalsRequired" | "renewalApprovalsRequired">, renewal: boolean): number {
  return renewal ? settings.renewalApprovalsRequired : settings.approvalsRequired;
}
