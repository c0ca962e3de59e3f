/** View-models of renewal: the owner's panel and confirmation page, the reviewers' key history. */
import { STATE_LABELS, isRequestState } from "../core/request-lifecycle.ts";
import { formatFingerprint } from "../core/key-policy.ts";
import { SETTING_LIMITS, type Settings } from "../core/settings.ts";
import type { FormProblem } from "../errors.ts";
import { describePastRevocation } from "../core/key-history.ts";
import type { KeyCertificationRecord } from "../repositories/renewals.ts";
import type { KeyCard, KeyHistoryPanel, RenewalPanel, RenewalPreview } from "../services/renewals.ts";
import type { ReplacementPanel } from "../services/replacements.ts";
import { formatDate } from "./helpers.ts";

const DAY_MS = 86_400_000;

export function renewalPanelModel(id: string, panel: RenewalPanel) {
  const renewal = panel.renewal;
  return {
    renewalPanel: {
      id,
      renewsRequestId: panel.renewsRequestId,
      renewal: renewal ? { id: renewal.id, certified: renewal.state === "certified", stateLabel: isRequestState(renewal.state) ? STATE_LABELS[renewal.state] : renewal.state } : null,
      canRenew: panel.canRenew,
      canReplace: panel.canReplace,
      replacement: panel.replacement ? { id: panel.replacement.id, revoked: panel.replacement.choice === "revoke", expire: panel.replacement.choice === "expire" } : null,
    },
  };
}

export function renewConfirmModel(preview: RenewalPreview, now: Date, problems: FormProblem[] = []) {
  const { source } = preview;
  const expires = source.certificationExpiresAt;
  return {
    title: "Renew the certification",
    id: source.id,
    fingerprint: formatFingerprint(source.key.fingerprint),
    keyFingerprint: source.key.fingerprint,
    userIds: preview.userIds,
    currentExpiry: expires ? formatDate(expires) : null,
    expired: expires !== null && expires <= now,
    newExpiry: formatDate(new Date(now.getTime() + preview.validityDays * DAY_MS)),
    validityDays: preview.validityDays,
    approvalsRequired: preview.approvalsRequired,
    oneApproval: preview.approvalsRequired === 1,
    agreementOutdated: preview.agreementVersion.signed < preview.agreementVersion.current,
    agreementVersion: preview.agreementVersion,
    refusal: preview.refusal?.message ?? null,
    problems,
  };
}

const REVIEW_STATES: ReadonlySet<string> = new Set(["submitted", "in_review", "changes_requested"]);

/** The staff request page's key history of a renewal or replacement. Overrides the review quorum shown while the request is reviewed. */
export function staffKeyHistoryModel(panel: KeyHistoryPanel | null, state: string, now: Date) {
  if (!panel) return {};
  return {
    ...(REVIEW_STATES.has(state) ? { approvalsRequired: panel.approvalsRequired } : {}),
    renewalHistory: {
      renewsRequestId: panel.renewsRequestId,
      replacesRequestId: panel.replacesRequestId,
      certifications: panel.certifications.map((c) => ({
        requestId: c.requestId,
        userId: c.userId,
        certifiedOn: formatDate(c.certifiedAt),
        master: formatFingerprint(c.masterFingerprint),
        expires: c.expiresAt ? formatDate(c.expiresAt) : "never",
        status: certificationStatus(c, now),
      })),
      revocations: panel.revocations.map(describePastRevocation),
      ownerUpdates: panel.ownerUpdates.map((at) => formatDate(at)),
      policyProblems: panel.policyNow.problems,
      policyWarnings: panel.policyNow.warnings,
      keys: panel.keys ? { old: keyCardModel(panel.keys.old), new: keyCardModel(panel.keys.new) } : null,
      agreement: panel.agreementVersion ? { ...panel.agreementVersion, outdated: panel.agreementVersion.signed < panel.agreementVersion.current } : null,
    },
  };
}

function keyCardModel(card: KeyCard) {
  return { fingerprint: formatFingerprint(card.fingerprint), algorithm: card.algorithm, created: formatDate(card.createdAt), expires: card.expiresAt ? formatDate(card.expiresAt) : "never", userIds: card.userIds };
}

function certificationStatus(c: KeyCertificationRecord, now: Date): string {
  if (c.revokedAt) return `revoked on ${formatDate(c.revokedAt)}`;
  if (c.expiresAt && c.expiresAt <= now) return "expired";
  if (c.supersededAt) return `superseded on ${formatDate(c.supersededAt)} (still published until it expires)`;
  return "in force";
}

/** The renewal block of the Settings page: the renewal quorum, the agreement version and the template's SHA-256. */
export function renewalSettingsModel(settings: Settings, templateSha256: string, values?: Record<string, string | undefined>) {
  return {
    renewalSettings: {
      renewalApprovalsRequired: values?.renewalApprovalsRequired ?? String(settings.renewalApprovalsRequired),
      agreementVersion: values?.agreementVersion ?? String(settings.agreementVersion),
      currentAgreementVersion: settings.agreementVersion,
      limits: SETTING_LIMITS,
      templateSha256,
    },
  };
}

/** The replaced certification's card on the new request's page; nothing for other requests. */
export function replacementPanelModel(panel: ReplacementPanel | null) {
  if (!panel) return {};
  return { replacementPanel: { ...panel, revoke: panel.choice === "revoke", expire: panel.choice === "expire", mayChoose: panel.certified && !panel.oldRevoked } };
}
