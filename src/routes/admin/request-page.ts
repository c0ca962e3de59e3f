import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { NotFoundError, type FormProblem } from "../../errors.ts";
import { staffOf } from "../../plugins/app/authorization.ts";
import { staffRevocationModel, type RevocationFormValues } from "../../presenters/revocations.ts";
import { staffRequestModel } from "../../presenters/review.ts";
import { loadRequestDetail } from "../../repositories/requests.ts";
import { loadStaffView } from "../../repositories/review.ts";
import { loadRevocationView } from "../../repositories/revocations.ts";
import { readSettings } from "../../repositories/settings.ts";
import { listKeyUpdates } from "../../repositories/key-updates.ts";
import { keyUpdateListModel } from "../../presenters/key-updates.ts";
import { staffKeyHistoryModel } from "../../presenters/renewals.ts";

export interface StaffRequestPageExtra {
  problems?: FormProblem[];
  reason?: string;
  revocationForm?: RevocationFormValues;
}

/** The staff request page, shared by the review and the revocation routes so either can re-render it with a form's problems. */
export async function renderStaffRequest(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, id: string, extra: StaffRequestPageExtra, status = 200) {
  const detail = await loadRequestDetail(app.db, id);
  const view = detail ? await loadStaffView(app.db, id, detail.keys[0]?.revision ?? 1) : null;
  if (!detail || !view) throw new NotFoundError();
  const fingerprint = detail.keys[0]?.fingerprint ?? "";
  const [settings, revocations, keyHistory, keyUpdates] = await Promise.all([
    readSettings(app.db),
    loadRevocationView(app.db, id),
    app.review.keyHistory(id, fingerprint),
    hasCertification(detail.state) ? listKeyUpdates(app.db, fingerprint) : [],
  ]);
  const staff = staffOf(request);
  const staffId = staff.id;
  const mayReview = staff.roles.includes("reviewer");
  const { revocationForm, ...review } = extra;
  return reply.render(
    "admin/requests/show.hbs",
    {
      ...staffRequestModel({ detail, view, settings, staffId, mayReview, keyHistory, now: app.now(), ...review }),
      ...keyUpdateListModel(keyUpdates),
      ...staffRevocationModel({ state: detail.state, view: revocations, approvalsRequired: settings.approvalsRequired, staffId, mayReview, form: revocationForm }),
      ...staffKeyHistoryModel(await app.renewals.staffPanelFor(id), detail.state, app.now()),
    },
    status,
  );
}

/** Owner updates belong to the published key: shown on the requests that certified it. */
function hasCertification(state: string): boolean {
  return state === "certified" || state === "revoked";
}
