import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { holdsAnyRole, type StaffRole } from "../../core/roles.ts";
import type { Settings } from "../../core/settings.ts";
import { NotFoundError, type FormProblem } from "../../errors.ts";
import { staffOf } from "../../plugins/app/authorization.ts";
import { PDFJS_URLS } from "../../plugins/external/pdfjs.ts";
import { staffRevocationModel, type RevocationFormValues } from "../../presenters/revocations.ts";
import { decisionOutcomeModel, decisionPanelModel, isOwnRequest, type Decision } from "../../presenters/review-decision.ts";
import { staffRequestModel } from "../../presenters/review.ts";
import { loadRequestDetail, type RequestDetail } from "../../repositories/requests.ts";
import { findNextForReviewer, type NextRequest } from "../../repositories/next-request.ts";
import { loadStaffView, type StaffView } from "../../repositories/review.ts";
import { loadRevocationView } from "../../repositories/revocations.ts";
import { readSettings } from "../../repositories/settings.ts";
import { listKeyUpdates } from "../../repositories/key-updates.ts";
import { keyUpdateListModel } from "../../presenters/key-updates.ts";
import { staffKeyHistoryModel } from "../../presenters/renewals.ts";
import { approvalsRequiredOf } from "../../core/settings.ts";
import { findRequestLinks } from "../../repositories/renewals.ts";

/** Who may approve, ask for changes and reject: the decision routes' guard and the page's forms both use it. */
export const DECISION_ROLES: readonly StaffRole[] = ["reviewer"];

export interface StaffRequestPageExtra {
  problems?: FormProblem[];
  /** What was typed into a refused decision's box, so it is not lost. */
  reasons?: Partial<Record<"reject" | "request-changes", string>>;
  revocationForm?: RevocationFormValues;
  /** The decision the viewer just made (the redirect after it says which). */
  decided?: Decision;
}

/** The staff request page, shared by the review and the revocation routes so either can re-render it with a form's problems. */
export async function renderStaffRequest(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, id: string, extra: StaffRequestPageExtra, status = 200) {
  const detail = await loadRequestDetail(app.db, id);
  const view = detail ? await loadStaffView(app.db, id, detail.keys[0]?.revision ?? 1) : null;
  if (!detail || !view) throw new NotFoundError();
  const fingerprint = detail.keys[0]?.fingerprint ?? "";
  const staff = staffOf(request);
  const mayDecide = holdsAnyRole(staff.roles, DECISION_ROLES);
  const [stored, links, revocations, keyHistory, keyUpdates, next] = await Promise.all([
    readSettings(app.db),
    findRequestLinks(app.db, id),
    loadRevocationView(app.db, id),
    app.review.keyHistory(id, fingerprint),
    hasCertification(detail.state) ? listKeyUpdates(app.db, fingerprint) : [],
    // The "next request" link follows a decision only.
    extra.decided && mayDecide ? findNextForReviewer(app.db, staff, id) : null,
  ]);
  // A renewal has its own quorum; the page's counts and the banner must use the one its approvals are measured against.
  const settings = { ...stored, approvalsRequired: approvalsRequiredOf(stored, links.renewsRequestId !== null) };
  const now = app.now();
  const page = staffRequestModel({ detail, view, settings, staffId: staff.id, keyHistory, now, problems: extra.problems });
  const { decision, outcome } = decisionModels({ detail, view, settings, staff, mayDecide, page, next, now, extra });
  return reply.render(
    "admin/requests/show.hbs",
    {
      ...page,
      decision,
      outcome,
      pdfjs: PDFJS_URLS,
      ...keyUpdateListModel(keyUpdates),
      ...staffRevocationModel({ state: detail.state, view: revocations, approvalsRequired: stored.approvalsRequired, staffId: staff.id, mayReview: mayDecide, form: extra.revocationForm }),
      ...staffKeyHistoryModel(await app.renewals.staffPanelFor(id), detail.state, app.now()),
    },
    status,
  );
}

/** The decision panel and the banner after a decision, from the page's facts. */
function decisionModels(input: {
  detail: RequestDetail;
  view: StaffView;
  settings: Settings;
  staff: { id: string; email: string };
  mayDecide: boolean;
  page: { approvedByMe: boolean; keyHistory: { ended: string | null } | null };
  next: NextRequest | null;
  now: Date;
  extra: StaffRequestPageExtra;
}) {
  const { detail, view, page, staff } = input;
  const decision = decisionPanelModel({
    state: detail.state,
    mayDecide: input.mayDecide,
    approvedByMe: page.approvedByMe,
    ownRequest: isOwnRequest(view.addresses, staff.email),
    keyEnded: Boolean(page.keyHistory?.ended),
    approvals: view.approvals.length,
    required: input.settings.approvalsRequired,
    reasons: input.extra.reasons,
  });
  const outcome = decisionOutcomeModel({
    decided: input.extra.decided,
    state: detail.state,
    staffId: staff.id,
    approvedByMe: page.approvedByMe,
    approvals: view.approvals.length,
    required: input.settings.approvalsRequired,
    timeline: detail.timeline,
    next: input.next,
    now: input.now,
  });
  return { decision, outcome };
}

/** Owner updates belong to the published key: shown on the requests that certified it. */
function hasCertification(state: string): boolean {
  return state === "certified" || state === "revoked";
}
