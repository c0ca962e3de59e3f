import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { FormExpiredError, isKeysignError } from "../errors.ts";
import { UNREADABLE_FORM_MESSAGE as UNREADABLE } from "./forms.ts";

const FORM_EXPIRED = new FormExpiredError().message;

/**
 * Messages for the framework's and its plugins' own expected failures, keyed by their stable
 * error codes (never by their text). The multipart reader (forms.ts) passes the parser's FST_*
 * errors through and turns anything else it throws into a 400 of its own.
 */
const FRAMEWORK_MESSAGES: Record<string, { status: number; message: string }> = {
  FST_CSRF_MISSING_SECRET: { status: 403, message: FORM_EXPIRED },
  FST_CSRF_INVALID_TOKEN: { status: 403, message: FORM_EXPIRED },
  FST_CSRF_MISSING_TOKEN: { status: 403, message: FORM_EXPIRED },
  FST_REQ_FILE_TOO_LARGE: { status: 413, message: "A file is larger than allowed. Nothing was stored." },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, message: "The form is larger than allowed. Nothing was stored." },
  FST_FILES_LIMIT: { status: 413, message: "The form has more files than it takes. Nothing was stored." },
  FST_PARTS_LIMIT: { status: 413, message: "The form has more parts than it takes. Nothing was stored." },
  FST_FIELDS_LIMIT: { status: 413, message: "The form has more fields than it takes. Nothing was stored." },
  FST_PROTO_VIOLATION: { status: 400, message: UNREADABLE },
  FST_MP_PREMATURE_CLOSE: { status: 400, message: UNREADABLE },
  FST_INVALID_JSON_FIELD_ERROR: { status: 400, message: UNREADABLE },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { status: 415, message: "This form must be sent as multipart/form-data. Submit it from the page." },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, message: "This form was sent in a format the portal does not take. Submit it from the page." },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, message: UNREADABLE },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, message: "The form was empty." },
  FST_ERR_VALIDATION: { status: 400, message: "Some fields are missing or malformed. Go back, check the form and submit it again." },
};

export function registerErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const { status, message, code } = classify(error);
    if (status >= 500) {
      request.log.error({ err: error }, "unexpected error");
    } else {
      request.log.info({ code, status }, "request refused");
    }
    return sendError(request, reply, status, message, code);
  });

  app.setNotFoundHandler(async (request, reply) =>
    sendError(request, reply, 404, "There is nothing here. Check the address, or sign in with the account that owns it."),
  );
}

function classify(error: FastifyError): { status: number; message: string; code: string } {
  if (isKeysignError(error)) return { status: error.statusCode, message: error.message, code: error.code };
  const known = error.code ? FRAMEWORK_MESSAGES[error.code] : undefined;
  if (known) return { ...known, code: error.code };
  if (error.statusCode === 429) {
    return { status: 429, message: "Too many attempts from your network. Wait a few minutes and try again.", code: "RATE_LIMITED" };
  }
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
    return { status: error.statusCode, message: "The request could not be processed. Go back and try again.", code: error.code ?? "CLIENT_ERROR" };
  }
  return { status: 500, message: "", code: "INTERNAL" };
}

/** A script's request: `Accept: application/json`, or `?format=json` where a header is awkward to set. */
export function wantsJson(request: FastifyRequest): boolean {
  const query = request.query as Record<string, unknown> | undefined;
  return query?.format === "json" || /\bapplication\/json\b/i.test(request.headers.accept ?? "");
}

async function sendError(request: FastifyRequest, reply: FastifyReply, status: number, message: string, code = "NOT_FOUND") {
  if (reply.sent) return reply;
  const json = request.routeOptions.config?.jsonErrors;
  if (json === "always" || (json === "when-asked" && wantsJson(request))) {
    const text = status >= 500 ? `Something went wrong (reference ${request.id}).` : message;
    return reply.code(status).type("application/json; charset=utf-8").send({ error: { status, code: status >= 500 ? "INTERNAL" : code, message: text } });
  }
  const model = {
    title: status >= 500 ? "Something went wrong" : "This did not work",
    status,
    message: status >= 500 ? null : message,
    correlationId: request.id,
  };
  if (request.routeOptions.config?.textErrors) return reply.code(status).type("text/plain; charset=utf-8").send(`${model.message ?? `Something went wrong (reference ${request.id}).`}\n`);
  try {
    return await reply.render("error.hbs", model, status);
  } catch {
    // Rendering itself failed (e.g. the CSRF plugin threw): plain text, still without internals.
    return reply.code(status).type("text/plain; charset=utf-8").send(model.message ?? `Something went wrong (reference ${request.id}).`);
  }
}
