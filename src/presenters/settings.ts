import * as openpgp from "openpgp";
import { SETTING_LIMITS, senderAddress, type Settings } from "../core/settings.ts";
import type { FormProblem } from "../errors.ts";
import { formatFingerprint } from "../core/key-policy.ts";

export async function settingsModel(
  settings: Settings,
  extra: { problems?: FormProblem[]; values?: Record<string, string | undefined>; saved: boolean; masterSaved?: boolean; mailFrom: string },
) {
  return {
    title: "Settings",
    saved: extra.saved && !extra.problems,
    masterSaved: Boolean(extra.masterSaved) && !extra.problems && settings.masterPublicKey !== "",
    problems: extra.problems ?? [],
    values: {
      approvalsRequired: extra.values?.approvalsRequired ?? String(settings.approvalsRequired),
      certificationValidityDays: extra.values?.certificationValidityDays ?? String(settings.certificationValidityDays),
      openRequestsPerApplicant: extra.values?.openRequestsPerApplicant ?? String(settings.openRequestsPerApplicant),
      policyUrl: extra.values?.policyUrl ?? settings.policyUrl,
      organisationName: extra.values?.organisationName ?? settings.organisationName,
      certificationDomain: extra.values?.certificationDomain ?? settings.certificationDomain,
      contactAddress: extra.values?.contactAddress ?? settings.contactAddress,
    },
    /** What pages and emails show while the contact address is empty. */
    contactFallback: senderAddress(extra.mailFrom),
    limits: SETTING_LIMITS,
    master: settings.masterPublicKey ? await masterFacts(settings) : null,
  };
}

async function masterFacts(settings: Settings) {
  const key = await openpgp.readKey({ armoredKey: settings.masterPublicKey });
  return {
    fingerprint: formatFingerprint(settings.masterFingerprint),
    userIds: key.getUserIDs(),
  };
}
