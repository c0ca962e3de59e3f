import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply } from "fastify";
import { MAX_AGREEMENT_BYTES } from "../../core/agreement-pdf.ts";
import { LIMITS } from "../../core/key-policy.ts";
import { FormError, HeldFilesFormError, KeysignError, type FormProblem, type KeptFiles } from "../../errors.ts";
import { applicantOf } from "../../plugins/app/authorization.ts";
import { detailsFormModel, keyStepModel, revisionModel, type DetailsFormValues, type FormFlow } from "../../presenters/requests.ts";
import { LINK_TTL_MINUTES } from "../../services/auth.ts";
import { MAX_SIGNATURE_BYTES, type CheckedKey, type SubmissionInput } from "../../services/requests.ts";
import { multipartBody } from "../body-rules.ts";
import { checked, field, fieldList, multipartFormOf, type MultipartForm } from "../forms.ts";
import { mayEchoKeyText } from "./key-echo.ts";

const IdParams = Type.Object({ id: Type.String({ format: "uuid" }) });

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

const NEW_REQUEST: FormFlow = { keyPage: "/requests/new", keyAction: "/requests/new", detailsAction: "/requests", refreshAction: "/requests/refresh", requestId: null };
const revisionOf = (id: string): FormFlow => ({
  keyPage: `/requests/${id}/revise/key`,
  keyAction: `/requests/${id}/revise/key`,
  detailsAction: `/requests/${id}/revise`,
  refreshAction: `/requests/${id}/revise/refresh`,
  requestId: id,
});

/** What step two shows besides the key and the values: problems, kept files, notices. */
interface StepTwoExtras {
  problems?: FormProblem[];
  kept?: KeptFiles | null;
  notice?: string | null;
  sentTo?: string | null;
}

/**
 * The applicant's request form, in two steps (the key, then the agreement and details), for a new
 * request and for a revision after "changes requested". Registered under /requests behind the
 * applicant check of the parent plugin; services enforce ownership (404 otherwise).
 */
const requestFormRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get("/new", async (request, reply) => {
    const formToken = await app.requests.formToken(applicantOf(request));
    return reply.render("account/key-step.hbs", { ...(await keyStep(applicantOf(request), NEW_REQUEST)), formToken });
  });

  app.post("/new", { config: KEY_STEP_FORM }, async (request, reply) => showDetailsStep(reply, applicantOf(request), multipartFormOf(request), NEW_REQUEST));

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

  app.post("/refresh", { config: REQUEST_FORM }, async (request, reply) => refresh(reply, applicantOf(request), request.ip, multipartFormOf(request), NEW_REQUEST));

  // A revision starts at step two with the current key and answers; step one only to replace the key.
  app.get("/:id/revise", { schema: { params: IdParams } }, async (request, reply) => {
    const applicantId = applicantOf(request);
    const start = await app.requests.revisionStart(request.params.id, applicantId);
    // Only a request with changes asked can be revised: anything else has its own page to say where it stands.
    if (start.detail.state !== "changes_requested") return reply.redirect(`/requests/${start.detail.id}`, 303);
    const flow = revisionOf(start.detail.id);
    const carriedValues = { version: String(start.detail.version) };
    if (!start.checked) {
      const model = { ...(await keyStep(applicantId, flow)), ...carriedValues, problems: start.keyProblems };
      return reply.render("account/key-step.hbs", model, 409);
    }
    const values: DetailsFormValues = { ...start.values };
    const model = detailsFormModel({ checked: start.checked, values, problems: [], flow, revision: revisionModel(start) });
    return reply.render("account/details-step.hbs", { ...model, ...carriedValues });
  });

  app.get("/:id/revise/key", { schema: { params: IdParams } }, async (request, reply) => {
    const applicantId = applicantOf(request);
    const detail = await app.requests.detailFor(request.params.id, applicantId);
    return reply.render("account/key-step.hbs", { ...(await keyStep(applicantId, revisionOf(detail.id))), version: detail.version });
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

  app.post("/:id/revise/refresh", { schema: { params: IdParams }, config: REQUEST_FORM }, async (request, reply) => {
    const applicantId = applicantOf(request);
    await app.requests.detailFor(request.params.id, applicantId);
    return refresh(reply, applicantId, request.ip, multipartFormOf(request), revisionOf(request.params.id));
  });

  /** Step one's page: where it posts, and the applicant's sign-in address for the export command. */
  async function keyStep(applicantId: string, flow: FormFlow) {
    return keyStepModel(flow, await app.requests.signInAddressOf(applicantId));
  }

  /** What both steps carry from page to page: the revision's version, or the new request's single-use form token. */
  async function carried(applicantId: string, form: MultipartForm, flow: FormFlow) {
    if (flow.requestId !== null) return { version: field(form, "version") };
    return { formToken: await app.requests.formToken(applicantId, field(form, "formToken")) };
  }

  /** A revision's page repeats the reviewer's message and the current agreement on every showing. */
  async function revisionOfFlow(applicantId: string, flow: FormFlow) {
    return flow.requestId === null ? null : revisionModel(await app.requests.revisionStart(flow.requestId, applicantId));
  }

  async function showDetailsStep(reply: FastifyReply, applicantId: string, form: MultipartForm, flow: FormFlow) {
    let checkedKey: CheckedKey;
    try {
      checkedKey = await app.requests.checkKey(applicantId, keyBytes(form), flow.requestId);
    } catch (error) {
      if (!(error instanceof FormError)) throw error;
      // Pasted text comes back for correction only when it parsed as a public key and nothing else.
      const keyText = mayEchoKeyText(error.problems) ? field(form, "keyText") : "";
      const model = { ...(await keyStep(applicantId, flow)), ...(await carried(applicantId, form, flow)), keyText, problems: error.problems };
      return reply.render("account/key-step.hbs", model, error.statusCode);
    }
    const values: DetailsFormValues = { ...EMPTY_VALUES, certifyUserIds: checkedKey.choices.filter((c) => c.confirmed).map((c) => c.userId) };
    const revision = await revisionOfFlow(applicantId, flow);
    const model = detailsFormModel({ checked: checkedKey, values, problems: [], flow, revision, replacingKey: revision !== null });
    return reply.render("account/details-step.hbs", { ...model, ...(await carried(applicantId, form, flow)) });
  }

  /** Step two again with the same values: after an error, or after a confirmation link was sent from it. */
  async function renderStepTwo(reply: FastifyReply, applicantId: string, form: MultipartForm, flow: FormFlow, extras: StepTwoExtras, statusCode: number) {
    let checkedKey: CheckedKey;
    try {
      checkedKey = await app.requests.checkKey(applicantId, keyBytes(form), flow.requestId);
    } catch (keyError) {
      if (!(keyError instanceof FormError)) throw keyError;
      const model = { ...(await keyStep(applicantId, flow)), ...(await carried(applicantId, form, flow)), problems: extras.problems ?? keyError.problems };
      return reply.render("account/key-step.hbs", model, statusCode === 200 ? keyError.statusCode : statusCode);
    }
    const revision = await revisionOfFlow(applicantId, flow);
    const model = detailsFormModel({ checked: checkedKey, values: valuesFrom(form), problems: extras.problems ?? [], flow, revision, ...extras });
    return reply.render("account/details-step.hbs", { ...model, sentTo: extras.sentTo ?? null, minutes: LINK_TTL_MINUTES, ...(await carried(applicantId, form, flow)) }, statusCode);
  }

  /** Re-renders step two with every message, everything typed, and the files kept for the next try. */
  async function rerenderDetails(reply: FastifyReply, error: unknown, applicantId: string, form: MultipartForm, flow: FormFlow) {
    if (!(error instanceof FormError)) throw error;
    const held = error instanceof HeldFilesFormError ? { kept: error.kept, notice: error.notice } : {};
    return renderStepTwo(reply, applicantId, form, flow, { problems: error.problems, ...held }, error.statusCode);
  }

  /**
   * Step two's "send a confirmation link" and "I have confirmed it": keeps the valid files, sends
   * the link through the account page's own path (same checks and limits), and shows the form again.
   */
  async function refresh(reply: FastifyReply, applicantId: string, ip: string, form: MultipartForm, flow: FormFlow) {
    const { kept, notice } = await app.requests.keepFiles(submissionFrom(form, applicantId, ip), flow.requestId);
    const address = field(form, "sendConfirmation");
    if (address === "") return renderStepTwo(reply, applicantId, form, flow, { kept, notice }, 200);
    try {
      const sentTo = await app.auth.requestAddressConfirmation({ applicantId, address, ip });
      return renderStepTwo(reply, applicantId, form, flow, { kept, notice, sentTo }, 200);
    } catch (error) {
      if (!(error instanceof KeysignError) || error.statusCode >= 500) throw error;
      const problems = [{ field: "certifyUserIds", code: error.code, message: error.message }];
      return renderStepTwo(reply, applicantId, form, flow, { kept, notice, problems }, error.statusCode);
    }
  }
};

const EMPTY_VALUES: DetailsFormValues = {
  licence: "",
  projectUrls: "",
  attestOpenSource: false,
  attestNotCommercial: false,
  attestAgreement: false,
  certifyUserIds: [],
  publishUserIds: [],
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
    signatureFileName: form.files.get("signature")?.filename,
    declarations: values,
    heldHandle: field(form, "heldFiles"),
  };
}

export default requestFormRoutes;
