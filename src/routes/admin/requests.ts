import { createReadStream } from "node:fs";
import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { KeysignError, NotFoundError } from "../../errors.ts";
import { requireStaff, staffActorOf, staffOf } from "../../plugins/app/authorization.ts";
import { dashboardModel } from "../../presenters/review.ts";
import { setupChecklistModel } from "../../presenters/setup-checklist.ts";
import { DECISIONS, decisionProblem } from "../../presenters/review-decision.ts";
import { findAgreementOf } from "../../repositories/agreements.ts";
import { countByStatus } from "../../repositories/outbox.ts";
import { countByState, findOldestWaiting, listWaitingFor } from "../../repositories/review.ts";
import { loadCertifiedKey } from "../../services/certified-delivery.ts";
import type { StaffActor } from "../../services/context.ts";
import { DECISION_ROLES, renderStaffRequest } from "./request-page.ts";
import { sendKeyFile } from "../downloads.ts";

const IdParams = Type.Object({ id: Type.String({ format: "uuid" }) });
const AgreementParams = Type.Object({ id: Type.String({ format: "uuid" }), agreementId: Type.String({ format: "uuid" }) });
const PageQuery = Type.Object({ decided: Type.Optional(Type.Union(DECISIONS.map((d) => Type.Literal(d)))) });
const DecisionBody = Type.Object({
  _csrf: Type.Optional(Type.String()),
  version: Type.Integer({ minimum: 1 }),
  reason: Type.String({ maxLength: 8000, default: "" }),
});
const NoteBody = Type.Object({ _csrf: Type.Optional(Type.String()), body: Type.String({ maxLength: 8000, default: "" }) });

/** Review: dashboard, request page, decisions and notes (the list is in request-list.ts). */
const reviewRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const anyStaff = requireStaff();
  const reviewer = requireStaff(...DECISION_ROLES);

  app.get("/", { onRequest: anyStaff }, async (request, reply) => {
    const staff = staffOf(request);
    const [counts, oldest, mine, mail, expiring, setup] = await Promise.all([
      countByState(app.db),
      findOldestWaiting(app.db),
      listWaitingFor(app.db, staff.id),
      countByStatus(app.db),
      app.expiry.expiringSoon(),
      app.setupChecklist.forDashboard(staff.roles),
    ]);
    return reply.render("admin/dashboard.hbs", { ...dashboardModel({ counts, oldest, mine, mail, expiring, now: app.now() }), setup: setupChecklistModel(setup) });
  });

  app.get("/requests/:id", { onRequest: anyStaff, schema: { params: IdParams, querystring: PageQuery } }, async (request, reply) =>
    renderStaffRequest(app, request, reply, request.params.id, { decided: request.query.decided }),
  );

  // The full certified key: every certification, and the revocations once published.
  app.get("/requests/:id/certified-key", { onRequest: anyStaff, schema: { params: IdParams } }, async (request, reply) => {
    const file = await loadCertifiedKey(app.db, request.params.id);
    return sendKeyFile(reply, file);
  });

  // The agreement as a download, under a sandbox CSP so the PDF can never act as a page of
  // this origin. The review page's viewer fetches the same bytes and draws them with pdf.js.
  app.get("/requests/:id/agreements/:agreementId", { onRequest: anyStaff, schema: { params: AgreementParams } }, async (request, reply) => {
    const agreement = await findAgreementOf(app.db, request.params.id, request.params.agreementId);
    if (!agreement) throw new NotFoundError();
    return reply
      .header("Content-Type", "application/pdf")
      .header("Content-Disposition", `attachment; filename="agreement-${agreement.revision}.pdf"`)
      .header("Content-Security-Policy", "sandbox; frame-ancestors 'none'")
      .header("X-Content-Type-Options", "nosniff")
      .send(createReadStream(app.files.agreementPath(agreement.storageName)));
  });

  // A decision answers with the request page: after it, a banner says what happened and
  // links to the next request; when refused, the message sits where the decision was made.
  const decisions = [
    ["approve", "approved", (input: DecisionInput) => app.review.approve(input)],
    ["request-changes", "changes-requested", (input: DecisionInput) => app.review.requestChanges(input)],
    ["reject", "rejected", (input: DecisionInput) => app.review.reject(input)],
  ] as const;
  for (const [path, decided, decide] of decisions) {
    app.post(`/requests/:id/${path}`, { onRequest: reviewer, schema: { params: IdParams, body: DecisionBody } }, async (request, reply) => {
      const { id } = request.params;
      try {
        await decide({ requestId: id, version: request.body.version, staff: staffActorOf(request), reason: request.body.reason });
      } catch (error) {
        if (!(error instanceof KeysignError) || !REFUSALS_SHOWN_ON_PAGE.includes(error.statusCode)) throw error;
        const extra = { problems: [decisionProblem(path, error)], reasons: path === "approve" ? {} : { [path]: request.body.reason } };
        return renderStaffRequest(app, request, reply, id, extra, error.statusCode);
      }
      return reply.redirect(`/admin/requests/${id}?decided=${decided}`, 303);
    });
  }

  app.post("/requests/:id/notes", { onRequest: anyStaff, schema: { params: IdParams, body: NoteBody } }, async (request, reply) => {
    await app.review.addNote({ requestId: request.params.id, staff: staffActorOf(request), body: request.body.body });
    return reply.redirect(`/admin/requests/${request.params.id}#notes`, 303);
  });
};

type DecisionInput = { requestId: string; version: number; staff: StaffActor; reason: string };

/** Refusals a reviewer can act on from the page: a box to fill in, a stale page, an approval not allowed. Others get the error page. */
const REFUSALS_SHOWN_ON_PAGE = [400, 403, 409];

export default reviewRoutes;
