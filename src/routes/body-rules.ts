import type {
  FastifyContextConfig,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  preValidationAsyncHookHandler,
  preValidationHookHandler,
  RouteOptions,
} from "fastify";
import { BodyRefusedError, FormExpiredError, TooManyRequestsError } from "../errors.ts";
import { hasCsrfSecret } from "../plugins/external/csrf.ts";
import { FORM_BODY_LIMIT } from "../plugins/external/formbody.ts";
import { formatBytes } from "../presenters/helpers.ts";
import { readAllParts, readRemainingParts, readTokenPart, type MultipartLimits } from "./forms.ts";

/**
 * The one body a route takes. "machine" is an urlencoded form sent by a program, not a page
 * (`POST /pks/add`, as GnuPG's dirmngr posts `keytext=`): see `machineFormBody`.
 * "machine-multipart" is a multipart form sent by a program (`curl -F`): see `machineMultipartBody`.
 */
export type BodyRule =
  | { kind: "form" }
  | { kind: "multipart"; limits: MultipartLimits }
  | { kind: "machine"; maxBytes: number }
  | { kind: "machine-multipart"; limits: MultipartLimits };

declare module "fastify" {
  interface FastifyContextConfig {
    /** Set with `multipartBody(...)`; a route that takes a body and says nothing takes an urlencoded form. */
    bodyRule?: BodyRule;
    /** Errors are answered as plain text (machine APIs such as HKP), not as an HTML page. */
    textErrors?: boolean;
    /** Errors are answered as JSON: always (a machine API), or when the request asks for JSON (`wantsJson`). */
    jsonErrors?: "always" | "when-asked";
  }
}

const FORM: BodyRule = { kind: "form" };
const MEDIA_TYPES = {
  form: "application/x-www-form-urlencoded",
  multipart: "multipart/form-data",
  machine: "application/x-www-form-urlencoded",
  "machine-multipart": "multipart/form-data",
} as const;
const BODY_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

const MESSAGES = {
  form: "This form must be sent the way its page sends it (application/x-www-form-urlencoded). Nothing was stored. Submit it from the page.",
  multipart: "This form must be sent the way its page sends it (multipart/form-data, with its files). Nothing was stored. Submit it from the page.",
  machine: "Send the key as an urlencoded form (application/x-www-form-urlencoded) with the armored key in the field keytext, as `gpg --send-keys` does. Nothing was stored.",
  "machine-multipart": "Send the files as multipart/form-data, as `curl -F` does (see the portal's module documentation). Nothing was stored.",
  tooLarge: (limit: number) => `The form is larger than allowed here (at most ${formatBytes(limit)}). Nothing was stored.`,
  noLength: "The upload did not say how large it is, so it was not read. Nothing was stored. Submit the form from the page.",
  busy: "Other uploads from your address are still being received. Wait for them to finish, then submit again. Nothing was stored.",
};

/** The route config of a form with files: `app.post(url, { config: multipartBody(LIMITS) }, handler)`. */
export function multipartBody(limits: MultipartLimits): FastifyContextConfig {
  return { bodyRule: { kind: "multipart", limits } };
}

/**
 * The route config of a machine API: an urlencoded body of at most `maxBytes`, with no CSRF
 * check and no cookie needed. Only for routes that use no session (so a visitor's cookies
 * give a forged request nothing it could not send itself), are rate limited per address, and
 * answer errors as plain text.
 */
export function machineFormBody(maxBytes: number): FastifyContextConfig {
  return { bodyRule: { kind: "machine", maxBytes }, textErrors: true };
}

/**
 * The route config of a machine API that takes files: a multipart body within `limits`, read
 * without a CSRF token, answered in JSON. Only for routes that use no session and change
 * nothing (a forged request from a visitor's browser then gains nothing it could not send
 * itself), rate limited per address like every upload.
 */
export function machineMultipartBody(limits: MultipartLimits): FastifyContextConfig {
  return { bodyRule: { kind: "machine-multipart", limits }, jsonErrors: "always" };
}

/** Multipart bodies, a page's or a program's: buffered part by part, so they share the per-client limit. */
function isMultipart(rule: BodyRule): rule is Extract<BodyRule, { limits: MultipartLimits }> {
  return rule.kind === "multipart" || rule.kind === "machine-multipart";
}

function ruleOf(config: FastifyContextConfig | undefined): BodyRule {
  return config?.bodyRule ?? FORM;
}

function limitOf(rule: BodyRule): number {
  if (rule.kind === "machine") return rule.maxBytes;
  return isMultipart(rule) ? rule.limits.maxBytes : FORM_BODY_LIMIT;
}

// Called on every request: no array is made for the common single method.
function takesBody(method: string | string[]): boolean {
  return typeof method === "string" ? BODY_METHODS.has(method) : method.some((m) => BODY_METHODS.has(m));
}

/**
 * Every route takes exactly one kind of body, declared once in its config; a route that
 * declares nothing takes an urlencoded form of at most 64 KiB, so a new route cannot take
 * more by forgetting. No route takes JSON or text (app.ts removes those parsers). Before any
 * byte of the body is read, the content type, the declared length and the CSRF cookie are
 * checked (here) and the route checks who asks (its `onRequest`); the CSRF token is checked
 * before the rest of the body: urlencoded forms are small and parsed first, multipart forms
 * are read token first (forms.ts).
 */
export function registerBodyRules(app: FastifyInstance): void {
  app.addHook("onRoute", (route: RouteOptions) => {
    if (!takesBody(route.method)) return;
    const rule = ruleOf(route.config);
    route.bodyLimit = limitOf(rule);
    route.preValidation = [...readers(app, rule), ...[route.preValidation ?? []].flat()];
  });
  app.addHook("onRequest", refuseUnexpectedBody);
  limitUploadsPerClient(app);
  app.addHook("onSend", closeIfUnread);
}

/**
 * Multipart bodies being received from one client address at once. A part is buffered until
 * it is complete (up to the route's largest field or file), so one client with many slow
 * uploads could otherwise hold memory for each until the request times out. Two covers a
 * double click; the third waits for one to end.
 */
export const MAX_UPLOADS_PER_CLIENT = 2;

function limitUploadsPerClient(app: FastifyInstance): void {
  const inFlight = new Map<string, number>();
  const holding = new WeakSet<FastifyRequest>();
  const release = async (request: FastifyRequest) => {
    if (!holding.delete(request)) return;
    const left = (inFlight.get(request.ip) ?? 1) - 1;
    if (left > 0) inFlight.set(request.ip, left);
    else inFlight.delete(request.ip);
  };
  app.addHook("onRequest", async (request) => {
    if (request.is404 || !takesBody(request.method) || !isMultipart(ruleOf(request.routeOptions.config))) return;
    const count = inFlight.get(request.ip) ?? 0;
    if (count >= MAX_UPLOADS_PER_CLIENT) throw new TooManyRequestsError(MESSAGES.busy);
    inFlight.set(request.ip, count + 1);
    holding.add(request);
  });
  app.addHook("onResponse", release);
  app.addHook("onRequestAbort", release);
}

function readers(app: FastifyInstance, rule: BodyRule): Array<preValidationHookHandler | preValidationAsyncHookHandler> {
  if (rule.kind === "machine") return [];
  if (rule.kind === "form") return [app.csrfProtection];
  if (rule.kind === "machine-multipart") return [async (request: FastifyRequest) => readAllParts(request, rule.limits)];
  const { limits } = rule;
  return [
    async (request: FastifyRequest) => readTokenPart(request, limits),
    app.csrfProtection,
    async (request: FastifyRequest) => readRemainingParts(request, limits),
  ];
}

/** Header checks only: a refused body is never read. */
async function refuseUnexpectedBody(request: FastifyRequest): Promise<void> {
  if (request.is404 || !takesBody(request.method)) return;
  const rule = ruleOf(request.routeOptions.config);
  const mediaType = (request.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (mediaType !== MEDIA_TYPES[rule.kind]) throw new BodyRefusedError("KEYSIGN_ERR_MEDIA_TYPE", MESSAGES[rule.kind], 415);
  const declared = request.headers["content-length"];
  const limit = limitOf(rule);
  // A multipart body must say its length, so its limit holds before a byte is read; fastify
  // counts an urlencoded body against the route's bodyLimit as it arrives.
  if (declared === undefined && isMultipart(rule)) throw new BodyRefusedError("KEYSIGN_ERR_LENGTH_REQUIRED", MESSAGES.noLength, 411);
  if (declared !== undefined && Number(declared) > limit) throw new BodyRefusedError("KEYSIGN_ERR_BODY_TOO_LARGE", MESSAGES.tooLarge(limit), 413);
  // Without the CSRF cookie no token can pass: refuse before reading anything.
  if (rule.kind !== "machine" && rule.kind !== "machine-multipart" && !hasCsrfSecret(request)) throw new FormExpiredError("KEYSIGN_ERR_FORM_NO_CSRF_COOKIE");
}

/** A response sent before the body was read closes the connection, so the rest of the upload is never received. */
async function closeIfUnread(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  if (takesBody(request.method) && !request.raw.readableEnded) reply.header("connection", "close");
  return payload;
}
