import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply } from "fastify";
import { MAX_AGREEMENT_BYTES } from "../../core/agreement-pdf.ts";
import { ConflictError, FormError, type FormProblem } from "../../errors.ts";
import { applicantOf, requireApplicant } from "../../plugins/app/authorization.ts";
import { renewConfirmModel } from "../../presenters/renewals.ts";
import { MAX_SIGNATURE_BYTES } from "../../services/requests.ts";
import { multipartBody } from "../body-rules.ts";
import { field, multipartFormOf, type MultipartForm } from "../forms.ts";

const IdParams = Type.Object({ id: Type.String({ format: "uuid" }) });
const ChoiceBody = Type.Object({ _csrf: Type.Optional(Type.String()), choice: Type.Optional(Type.String({ maxLength: 10 })) });
/** The confirmation, and when the agreement's text changed since it was signed, the executed current version and its signature. */
const RENEW_FORM = multipartBody({
  maxBytes: MAX_AGREEMENT_BYTES + MAX_SIGNATURE_BYTES + 64 * 1024,
  files: { agreement: { maxBytes: MAX_AGREEMENT_BYTES, label: "The agreement" }, signature: { maxBytes: MAX_SIGNATURE_BYTES, label: "The signature file" } },
  maxFieldBytes: MAX_SIGNATURE_BYTES,
  maxFields: 4,
});

/** Renewal and replacement of a certified request by its owner: a confirmation page, then one action (docs/signing-ceremony.md, "Renewal and replacement"). */
const renewalRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook("onRequest", requireApplicant);

  app.get("/:id/renew", { schema: { params: IdParams } }, async (request, reply) => show(reply, request.params.id, applicantOf(request)));

  app.post("/:id/renew", { schema: { params: IdParams }, config: RENEW_FORM }, async (request, reply) => {
    const form = multipartFormOf(request);
    const applicantId = applicantOf(request);
    try {
      const { requestId } = await app.renewals.renew({ requestId: request.params.id, applicantId, ip: request.ip, ...newAgreement(form) });
      return reply.redirect(`/requests/${requestId}`, 303);
    } catch (error) {
      if (error instanceof FormError) return show(reply, request.params.id, applicantId, error.problems, error.statusCode);
      if (error instanceof ConflictError) return show(reply, request.params.id, applicantId, [{ field: "form", code: error.code, message: error.message }], error.statusCode);
      throw error;
    }
  });

  // Replacement: the normal request form, with a form token naming the request whose key is replaced.
  app.get("/:id/replace", { schema: { params: IdParams } }, async (request, reply) => {
    const formToken = await app.replacements.startReplacement(request.params.id, applicantOf(request));
    return reply.render("account/key-step.hbs", { title: "Replace your certified key", action: "/requests/new", revising: false, formToken, replacing: request.params.id });
  });

  app.post("/:id/replaced-choice", { schema: { params: IdParams, body: ChoiceBody } }, async (request, reply) => {
    await app.replacements.choose({ requestId: request.params.id, applicantId: applicantOf(request), choice: request.body.choice ?? "", ip: request.ip });
    return reply.redirect(`/requests/${request.params.id}#replaced`, 303);
  });

  async function show(reply: FastifyReply, id: string, applicantId: string, problems: FormProblem[] = [], status = 200) {
    const preview = await app.renewals.preview(id, applicantId);
    return reply.render("account/renew.hbs", renewConfirmModel(preview, app.now(), problems), status);
  }
};

/** The newly signed agreement, when the page asked for one: an uploaded file, and the signature as a file or pasted. */
function newAgreement(form: MultipartForm) {
  const agreement = form.files.get("agreement");
  const signature = form.files.get("signature")?.bytes ?? Buffer.from(field(form, "signatureText"), "utf8");
  if (!agreement && signature.length === 0) return {};
  return { agreement: agreement ? { bytes: agreement.bytes, fileName: agreement.filename } : null, signature };
}

export default renewalRoutes;
