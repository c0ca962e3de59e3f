import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply } from "fastify";
import { LIMITS } from "../../core/key-policy.ts";
import { keyserverAddress } from "../../core/publication/hkp.ts";
import { OwnerUpdateRefusedError } from "../../errors.ts";
import { applicantOf, requireApplicant } from "../../plugins/app/authorization.ts";
import { findOwnedRequestKey } from "../../repositories/key-updates.ts";
import { multipartBody } from "../body-rules.ts";
import { field, multipartFormOf, type MultipartForm } from "../forms.ts";

const IdParams = Type.Object({ id: Type.String({ format: "uuid" }) });
/** A pasted key may be a little over the intake's 1 MiB, so that the intake's own message explains it. */
const KEY_TEXT_BYTES = LIMITS.maxUploadBytes + 64 * 1024;
const UPDATE_FORM = multipartBody({
  maxBytes: KEY_TEXT_BYTES + 64 * 1024,
  files: { keyFile: { maxBytes: LIMITS.maxUploadBytes, label: "The key file" } },
  maxFieldBytes: KEY_TEXT_BYTES,
  maxFields: 3,
});
const TITLE = "Update your published key";

/**
 * The owner's update of a certified key, on the request's own page (the form is a partial of
 * request.hbs): the same merge as `POST /pks/add`, but only for this request's key, and the
 * answer is a page that says what was merged or why not.
 */
const keyUpdateRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook("onRequest", requireApplicant);

  app.get("/requests/:id/key-update", { schema: { params: IdParams } }, async (request, reply) => {
    return render(reply, await pageOf(request.params.id, applicantOf(request)), {});
  });

  app.post("/requests/:id/key-update", { schema: { params: IdParams }, config: UPDATE_FORM }, async (request, reply) => {
    const form = multipartFormOf(request);
    const applicantId = applicantOf(request);
    const page = await pageOf(request.params.id, applicantId);
    try {
      const outcome = await app.ownerUpdates.apply({ upload: keyBytes(form), source: "upload", ip: request.ip, applicant: { id: applicantId, requestId: request.params.id } });
      return render(reply, page, { result: outcome });
    } catch (error) {
      if (!(error instanceof OwnerUpdateRefusedError)) throw error;
      return render(reply, page, { problems: [{ field: "keyUpdate", code: error.code, message: error.message }] }, error.statusCode);
    }
  });

  /** The applicant's own request (others get 404), and what the form shows of it. */
  async function pageOf(id: string, applicantId: string): Promise<Page> {
    const { state, fingerprint } = await findOwnedRequestKey(app.db, id, applicantId);
    return { id, fingerprint: fingerprint ?? "", certifiedKey: state === "certified" || state === "revoked", keyserver: keyserverAddress(app.config.PUBLIC_URL) };
  }
};

interface Page {
  id: string;
  fingerprint: string;
  certifiedKey: boolean;
  keyserver: string;
}

interface Extra {
  result?: { merged: boolean; lines: string[] };
  problems?: Array<{ field: string; code: string; message: string }>;
}

function render(reply: FastifyReply, page: Page, extra: Extra, status = 200) {
  return reply.render("account/key-update.hbs", { title: TITLE, ...page, problems: [], ...extra }, status);
}

/** The key as pasted (armored text) or uploaded (armored or binary); an uploaded file wins. */
function keyBytes(form: MultipartForm): Uint8Array {
  return form.files.get("keyFile")?.bytes ?? Buffer.from(field(form, "keyText"), "utf8");
}

export default keyUpdateRoutes;
