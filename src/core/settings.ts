/**
 * Portal settings an admin can change. Each has a default, a parser that refuses bad
 * values with a message, and is stored as text in the Setting table.
 */
export interface Settings {
  approvalsRequired: number;
  certificationValidityDays: number;
  policyUrl: string;
  /** The master public key, armored; empty until an admin uploads it. */
  masterPublicKey: string;
  masterFingerprint: string;
}

export const DEFAULT_SETTINGS: Settings = {
  approvalsRequired: 2,
  certificationValidityDays: 730,
  policyUrl: "",
  masterPublicKey: "",
  masterFingerprint: "",
};

export const SETTING_LIMITS = {
  approvalsRequired: { min: 1, max: 5 },
  certificationValidityDays: { min: 30, max: 3650 },
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

export function parsePolicyUrl(text: string): string | SettingProblem {
  const value = text.trim();
  if (value === "") return "";
  try {
    const url = new URL(value);
    if (url.protocol === "https:" && !url.username && !url.password && value.length <= 300) return value;
  } catch {
    // fall through to the message
  }
  return { field: "policyUrl", message: "The certification policy URL must be a full https:// address (or empty)." };
}

/** Reads stored rows over the defaults; a malformed stored value falls back to its default. */
export function settingsFromRows(rows: ReadonlyArray<{ key: string; value: string }>): Settings {
  const stored = new Map(rows.map((row) => [row.key, row.value]));
  const approvals = parseApprovalsRequired(stored.get("approvalsRequired") ?? "");
  const validity = parseValidityDays(stored.get("certificationValidityDays") ?? "");
  return {
    approvalsRequired: typeof approvals === "number" ? approvals : DEFAULT_SETTINGS.approvalsRequired,
    certificationValidityDays: typeof validity === "number" ? validity : DEFAULT_SETTINGS.certificationValidityDays,
    policyUrl: stored.get("policyUrl") ?? DEFAULT_SETTINGS.policyUrl,
    masterPublicKey: stored.get("masterPublicKey") ?? "",
    masterFingerprint: stored.get("masterFingerprint") ?? "",
  };
}
