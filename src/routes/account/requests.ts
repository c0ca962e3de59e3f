import { requestSubmittedModel, statusTrackerModel } from "../../presenters/status-tracker.ts";
import { createReadStream } from "node:fs";
import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply } from "fastify";
import { MAX_AGREEMENT_BYTES } from "../../core/agreement-pdf.ts";
import { LIMITS } from "../../core/key-policy.ts";
import { FormError, NotFoundError, type FormProblem } from "../../errors.ts";
import { applicantOf, requireApplicant } from "../../plugins/app/authorization.ts";
import {
  detailsFormModel,
  requestDetailModel,
  requestListModel,
  EMPTY_DETAILS,
  type DetailsFormValues,
} from "../../presenters/requests.ts";
import { applicantCertificationModel } from "../../presenters/revocations.ts";
import { renewalPanelModel, replacementPanelModel } from "../../presenters/renewals.ts";
import { findOwnedRequest, listRequestsOf } from "../../repositories/requests.ts";
import { findAppliedRevocation } from "../../repositories/revocations.ts";
import { loadCertifiedKey } from "../../services/certified-delivery.ts";
import { MAX_SIGNATURE_BYTES, type CheckedKey, type SubmissionInput } from "../../services/requests.ts";
import { multipartBody } from "../body-rules.ts";
import { checked, field, fieldList, multipartFormOf, type MultipartForm } from "../forms.ts";
import { mayEchoKeyText } from "./key-echo.ts";
import { sendKeyFile } from "../downloads.ts";

const IdParams = Type.Object({ id: Type.String({ format: "uuid" }) });
const AgreementParams = Type.Object({ id: Type.String({ format: "uuid" }), agreementId: Type.String({ format: "uuid" }) });
const VersionBody = Type.Object({ _csrf: Type.Optional(Type.String()), version: Type.Integer({ minimum: 1 }) });
const UserIdField = Type.String({ maxLength: LIMITS.maxUserIdBytes });
const PublishBody = Type.Object({
  _csrf: Type.Optional(Type.String()),
  publishUserIds: Type.Optional(Type.Union([UserIdField, Type.Array(UserIdField, { maxItems: LIMITS.maxUserIds })])),
});

/** A pasted key may be a little over the intake's 1 MiB, so that the intake's own message explains it. */
const KEY_TEXT_BYTES = LIMITS.maxUploadBytes + 64 * 1024;
const KEY_FILE = { maxBytes: LIMITS.maxUploadBytes, label: "The key file" };
/** Step one: the key, pasted or as a file. */
const KEY_STEP_FORM = multipartBody({ maxBytes: KEY_TEXT_BYTES + 64 * 1024, files: { keyFile: KEY_FILE }, maxFieldBytes: KEY_TEXT_BYTES, maxFields: 6 });
/** Step two: the checked key again, the agreement, its signature, the declarations and up to 10 user IDs to certify and 10 to publish. */
const REQUEST_FORM = multipartBody({
  maxBytes: MAX_AGREEMENT_BYTES + KEY_TEXT_BYTES + MAX_SIGNATURE_BYTES + 128 * 1024,
  files: {
    agreement: { maxBytes: MAX_AGREEMENT_BYTES, label: "The agreement" },
    signature: { maxBytes: MAX_SIGNATURE_BYTES, label: "The signature file" },
    keyFile: KEY_FILE,
  },
  maxFieldBytes: KEY_TEXT_BYTES,
  maxFields: 40,
});

/** Where the two steps of the form post: a new request, or a revision of `requestId`. */
interface Flow {
  keyAction: string;
  detailsAction: string;
  requestId: string | null;
}
const NEW_REQUEST: Flow = { keyAction: "/requests/new", detailsAction: "/requests", requestId: null };
const revisionOf = (id: string): Flow => ({ keyAction: `/requests/${id}/revise/key`, detailsAction: `/requests/${id}/revise`, requestId: id });

/** The applicant's requests. Every route needs a signed-in applicant; services enforce ownership (404 otherwise). */
const requestRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook("onRequest", requireApplicant);

  app.get("/", async (request, reply) => {
    const requests = await listRequestsOf(app.db, applicantOf(request));
    return reply.render("account/requests.hbs", requestListModel(requests, app.now()));
  });

  app.get("/new", async (request, reply) => {
    const formToken = await app.requests.formToken(applicantOf(request));
    return reply.render("account/key-step.hbs", { ...keyStepModel(NEW_REQUEST), formToken });
  });

  app.post("/new", { config: KEY_STEP_FORM }, async (request, reply) =>
    showDetailsStep(reply, applicantOf(request), multipartFormOf(request), NEW_REQUEST),
  );

  app.post("/", { config: REQUEST_FORM }, async (request, reply) => {
    const form = multipartFormOf(request);
    const applicantId = applicantOf(request);
    try {
      const { requestId, replayed } = await app.requests.submit(submissionFrom(form, applicantId, request.ip), field(form, "formToken"));
      if (replayed) request.log.info({ requestId }, "request form sent again: showing the request it created");
      return reply.redirect(`/requests/submitted/${requestId}`, 303);
    } catch (error) {
      return rerenderDetails(reply, error, applicantId, form, NEW_REQUEST);
    }
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

  app.get("/:id/revise", { schema: { params: IdParams } }, async (request, reply) => {
    const detail = await app.requests.detailFor(request.params.id, applicantOf(request));
    return reply.render("account/key-step.hbs", { ...keyStepModel(revisionOf(detail.id)), version: detail.version });
  });

  app.post("/:id/revise/key", { schema: { params: IdParams }, config: KEY_STEP_FORM }, async (request, reply) => {
    const applicantId = applicantOf(request);
    await app.requests.detailFor(request.params.id, applicantId);
    return showDetailsStep(reply, applicantId, multipartFormOf(request), revisionOf(request.params.id));
  });

  app.post("/:id/revise", { schema: { params: IdParams }, config: REQUEST_FORM }, async (request, reply) => {
    const applicantId = applicantOf(request);
    const form = multipartFormOf(request);
    try {
      await app.requests.resubmit(request.params.id, Number(field(form, "version")), submissionFrom(form, applicantId, request.ip));
      return reply.redirect(`/requests/${request.params.id}`, 303);
    } catch (error) {
      return rerenderDetails(reply, error, applicantId, form, revisionOf(request.params.id));
    }
  });

  function keyStepModel(flow: Flow) {
    const revising = flow.requestId !== null;
    return { title: revising ? "Revise your request" : "New certification request", action: flow.keyAction, revising };
  }

  /** What both steps carry from page to page: the revision's version, or the new request's single-use form token. */
  async function carried(applicantId: string, form: MultipartForm, flow: Flow) {
    if (flow.requestId !== null) return { version: field(form, "version") };
    return { formToken: await app.requests.formToken(applicantId, field(form, "formToken")) };
  }

  async function showDetailsStep(reply: FastifyReply, applicantId: string, form: MultipartForm, flow: Flow) {
    let checkedKey: CheckedKey;
    try {
      checkedKey = await app.requests.checkKey(applicantId, keyBytes(form), flow.requestId);
    } catch (error) {
      if (!(error instanceof FormError)) throw error;
      // Pasted text comes back for correction only when it parsed as a public key and nothing else.
      const keyText = mayEchoKeyText(error.problems) ? field(form, "keyText") : "";
      const model = { ...keyStepModel(flow), ...(await carried(applicantId, form, flow)), keyText, problems: error.problems };
      return reply.render("account/key-step.hbs", model, error.statusCode);
    }
    const values: DetailsFormValues = {
      ...EMPTY_DETAILS,
      certifyUserIds: checkedKey.choices.filter((c) => c.confirmed).map((c) => c.userId),
    };
    const model = detailsFormModel({ checked: checkedKey, values, problems: [], action: flow.detailsAction, revising: flow.requestId !== null });
    return reply.render("account/details-step.hbs", { ...model, ...(await carried(applicantId, form, flow)) });
  }

  /** Re-renders step two with every message and everything typed (files must be chosen again). */
  async function rerenderDetails(reply: FastifyReply, error: unknown, applicantId: string, form: MultipartForm, flow: Flow) {
    if (!(error instanceof FormError)) throw error;
    let checkedKey: CheckedKey;
    try {
      checkedKey = await app.requests.checkKey(applicantId, keyBytes(form), flow.requestId);
    } catch (keyError) {
      if (!(keyError instanceof FormError)) throw keyError;
      const model = { ...keyStepModel(flow), ...(await carried(applicantId, form, flow)), problems: error.problems };
      return reply.render("account/key-step.hbs", model, error.statusCode);
    }
    const model = detailsFormModel({ checked: checkedKey, values: valuesFrom(form), problems: error.problems, action: flow.detailsAction, revising: flow.requestId !== null });
    return reply.render("account/details-step.hbs", { ...model, ...(await carried(applicantId, form, flow)) }, error.statusCode);
  }
};

/** The key as pasted (armored text) or uploaded (armored or binary); an uploaded file wins. */
function keyBytes(form: MultipartForm): Uint8Array {
  return form.files.get("keyFile")?.bytes ?? Buffer.from(field(form, "keyText"), "utf8");
}

function valuesFrom(form: MultipartForm): DetailsFormValues {
  return {
    licence: field(form, "licence"),
    projectUrls: field(form, "projectUrls"),
    attestOpenSource: checked(form, "attestOpenSource"),
    attestNotCommercial: checked(form, "attestNotCommercial"),
    attestAgreement: checked(form, "attestAgreement"),
    certifyUserIds: fieldList(form, "certifyUserIds"),
    publishUserIds: fieldList(form, "publishUserIds"),
  };
}

function submissionFrom(form: MultipartForm, applicantId: string, ip: string): SubmissionInput {
  const agreement = form.files.get("agreement");
  const values = valuesFrom(form);
  return {
    applicantId,
    ip,
    key: keyBytes(form),
    certifyUserIds: values.certifyUserIds,
    publishUserIds: values.publishUserIds,
    agreement: agreement ? { bytes: agreement.bytes, fileName: agreement.filename } : null,
    signature: form.files.get("signature")?.bytes ?? Buffer.from(field(form, "signatureText"), "utf8"),
    declarations: values,
  };
}

export default requestRoutes;
