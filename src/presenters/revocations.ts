import type { RequestState } from "../core/request-lifecycle.ts";
import { isRevocationReasonCode, MAX_REVOCATION_TEXT, OPEN_REVOCATION_STATES, REVOCATION_REASONS, REVOCATION_STATE_LABELS } from "../core/revocation-reasons.ts";
import type { RevocationView } from "../repositories/revocations.ts";
import { formatDateTime } from "./helpers.ts";

export interface RevocationFormValues {
  reasonCode: string;
  reasonText: string;
}

function reasonLabel(code: string): string {
  return isRevocationReasonCode(code) ? REVOCATION_REASONS[code] : code;
}

function hasCertifiedKey(state: RequestState): boolean {
  return state === "certified" || state === "revoked";
}

/** The certification card of the staff request page: the certified key, the revocation form and any revocation under way. */
export function staffRevocationModel(input: { state: RequestState; view: RevocationView; approvalsRequired: number; staffId: string; mayReview: boolean; form?: RevocationFormValues }) {
  const { view } = input;
  const open = view.revocations.find((r) => OPEN_REVOCATION_STATES.includes(r.state));
  const applied = view.revocations.find((r) => r.state === "applied");
  const approvedByMe = open?.approvals.some((a) => a.staffId === input.staffId) ?? false;
  return {
    certification: hasCertifiedKey(input.state) && view.certifications.length > 0
      ? {
          certifications: view.certifications.map((c) => ({ userId: c.userId, certifiedAt: formatDateTime(c.certifiedAt), revokedAt: formatDateTime(c.revokedAt), sealed: c.sealed })),
          // Revoking takes the reviewer role, as the routes require; others see the state only.
          canPropose: input.mayReview && input.state === "certified" && !open,
          reasons: Object.entries(REVOCATION_REASONS).map(([code, label]) => ({ code, label, selected: code === input.form?.reasonCode })),
          reasonText: input.form?.reasonText ?? "",
          maxReasonText: MAX_REVOCATION_TEXT,
          open: open && {
            id: open.id,
            stateLabel: REVOCATION_STATE_LABELS[open.state] ?? open.state,
            reasonLabel: reasonLabel(open.reasonCode),
            reasonText: open.reasonText,
            proposedBy: open.proposedBy,
            proposedAt: formatDateTime(open.createdAt),
            approvals: open.approvals.map((a) => ({ staffEmail: a.staffEmail, at: formatDateTime(a.at) })),
            approvalsRequired: input.approvalsRequired,
            waitingForApprovals: open.state === "proposed",
            canApprove: input.mayReview && open.state === "proposed" && !approvedByMe,
            canWithdraw: input.mayReview && open.state === "proposed",
            approvedByMe,
            waitingForCeremony: open.state === "queued" || open.state === "exported",
          },
          applied: applied && { at: formatDateTime(applied.appliedAt), reasonLabel: reasonLabel(applied.reasonCode), reasonText: applied.reasonText },
        }
      : null,
  };
}

/** What the applicant's request page shows: the download, and why and when a certification was revoked. */
export function applicantCertificationModel(state: RequestState, fingerprint: string, applied: { appliedAt: Date; reasonCode: string; reasonText: string } | null) {
  return {
    certifiedKey: hasCertifiedKey(state) ? { filename: `${fingerprint}.asc`, fingerprint } : null,
    revoked: state === "revoked" && applied ? { at: formatDateTime(applied.appliedAt), reasonLabel: reasonLabel(applied.reasonCode), reasonText: applied.reasonText } : null,
  };
}
