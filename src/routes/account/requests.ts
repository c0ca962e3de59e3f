import { createReadStream } from "node:fs";
import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply } from "fastify";
import { LIMITS } from "../../core/key-policy.ts";
import { FormError, NotFoundError, type FormProblem } from "../../errors.ts";
import { applicantOf, requireApplicant } from "../../plugins/app/authorization.ts";
import { requestDetailModel, requestListModel } from "../../presenters/requests.ts";
import { applicantCertificationModel } from "../../presenters/revocations.ts";
import { requestSubmittedModel, statusTrackerModel } from "../../presenters/status-tracker.ts";
import { renewalPanelModel, replacementPanelModel } from "../../presenters/renewals.ts";
import { findOwnedRequest, listRequestsOf } from "../../repositories/requests.ts";
import { findAppliedRevocation } from "../../repositories/revocations.ts";
import { loadCertifiedKey } from "../../services/certified-delivery.ts";
import { sendKeyFile } from "../downloads.ts";
import requestFormRoutes from "./request-form.ts";

const IdParams = Type.Object({ id: Type.String({ format: "uuid" }) });
const AgreementParams = Type.Object({ id: Type.String({ format: "uuid" }), agreementId: Type.String({ format: "uuid" }) });
const VersionBody = Type.Object({ _csrf: Type.Optional(Type.String()), version: Type.Integer({ minimum: 1 }) });
const UserIdField = Type.String({ maxLength: LIMITS.maxUserIdBytes });
const PublishBody = Type.Object({
  _csrf: Type.Optional(Type.String()),
  publishUserIds: Type.Optional(Type.Union([UserIdField, Type.Array(UserIdField, { maxItems: LIMITS.maxUserIds })])),
});

/** The applicant's requests. Every route needs a signed-in applicant; services enforce ownership (404 otherwise). */
const requestRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook("onRequest", requireApplicant);
  // The two-step form for new requests and revisions.
  await app.register(requestFormRoutes);

  app.get("/", async (request, reply) => {
    const requests = await listRequestsOf(app.db, applicantOf(request));
    return reply.render("account/requests.hbs", requestListModel(requests, app.now()));
  });

  async function showRequest(reply: FastifyReply, requestId: string, applicantId: string, problems: FormProblem[] = [], statusCode = 200) {
    const { detail, approvals, required } = await app.requests.progressFor(requestId, applicantId);
    const applied = detail.state === "revoked" ? await findAppliedRevocation(app.db, detail.id) : null;
    const tracker = statusTrackerModel({ id: detail.id, state: detail.state, approvals, required, timeline: detail.timeline, schedule: app.config.SIGNING_SCHEDULE });
    const model = { ...requestDetailModel(detail, app.now()), ...applicantCertificationModel(detail.state, detail.keys[0]?.fingerprint ?? "", applied), tracker, problems };
    Object.assign(model, renewalPanelModel(detail.id, await app.renewals.panelFor(detail.id, applicantId, detail.state)), replacementPanelModel(await app.replacements.panelFor(detail.id, detail.state)));
    return reply.render("account/request.hbs", model, statusCode);
  }

  // What happens next, once, right after a request is made; the request's own page tracks it later.
  app.get("/submitted/:id", { schema: { params: IdParams } }, async (request, reply) => {
    const { detail, required } = await app.requests.progressFor(request.params.id, applicantOf(request));
    // A form sent again later, or an old bookmark: the request has moved on, so its page says where it stands.
    if (detail.state !== "submitted") return reply.redirect(`/requests/${detail.id}`, 303);
    return reply.render("account/request-submitted.hbs", requestSubmittedModel(detail, required, app.config.SIGNING_SCHEDULE));
  });

  app.get("/:id", { schema: { params: IdParams } }, async (request, reply) => showRequest(reply, request.params.id, applicantOf(request)));

  // The owner's choice of user IDs to publish; changeable at any time.
  app.post("/:id/publish", { schema: { params: IdParams, body: PublishBody } }, async (request, reply) => {
    const applicantId = applicantOf(request);
    const chosen = [request.body.publishUserIds ?? []].flat();
    try {
      await app.requests.choosePublishedUserIds(request.params.id, applicantId, chosen, request.ip);
    } catch (error) {
      if (!(error instanceof FormError)) throw error;
      return showRequest(reply, request.params.id, applicantId, error.problems, error.statusCode);
    }
    return reply.redirect(`/requests/${request.params.id}#publish`, 303);
  });

  // The certified key with every certification, and the published revocations once revoked.
  app.get("/:id/certified-key", { schema: { params: IdParams } }, async (request, reply) => {
    await findOwnedRequest(app.db, request.params.id, applicantOf(request));
    const file = await loadCertifiedKey(app.db, request.params.id);
    return sendKeyFile(reply, file);
  });

  app.post("/:id/withdraw", { schema: { params: IdParams, body: VersionBody } }, async (request, reply) => {
    await app.requests.withdraw(request.params.id, applicantOf(request), request.body.version, request.ip);
    return reply.redirect(`/requests/${request.params.id}`, 303);
  });

  app.get("/:id/agreements/:agreementId", { schema: { params: AgreementParams } }, async (request, reply) => {
    const detail = await app.requests.detailFor(request.params.id, applicantOf(request));
    const agreement = detail.agreements.find((a) => a.id === request.params.agreementId);
    if (!agreement) throw new NotFoundError();
    // Served as a download in a sandbox: the PDF can never act as a page of this origin.
    return reply
      .header("Content-Type", "application/pdf")
      .header("Content-Disposition", `attachment; filename="agreement-${agreement.revision}.pdf"`)
      .header("Content-Security-Policy", "sandbox")
      .header("X-Content-Type-Options", "nosniff")
      .send(createReadStream(app.files.agreementPath(agreement.storageName)));
  });
};

export default requestRoutes;
