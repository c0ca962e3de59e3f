import csrf from "@fastify/csrf-protection";
import type { FastifyInstance, FastifyRequest } from "fastify";

export const CSRF_COOKIE = "ks_csrf";

/**
 * Double-submit tokens: a signed secret cookie plus a token in every state-changing form
 * (hidden `_csrf` field, the first field of every form). Urlencoded bodies are parsed
 * before the check; multipart bodies are read only up to their first part, which must be
 * the token (src/routes/forms.ts puts it in `request.body._csrf`), so the check runs before
 * any file part is read.
 */
export async function registerCsrf(app: FastifyInstance, opts: { secure: boolean }): Promise<void> {
  await app.register(csrf, {
    sessionPlugin: "@fastify/cookie",
    cookieKey: CSRF_COOKIE,
    cookieOpts: { path: "/", httpOnly: true, sameSite: "lax", secure: opts.secure, signed: true },
    getToken: readToken,
    // A refused token is an expected refusal, logged by the root error handler at info level.
    logLevel: "debug",
  });
}

/** Whether the request carries a validly signed CSRF cookie: without one no token can pass, so the body need not be read. */
export function hasCsrfSecret(request: FastifyRequest): boolean {
  const cookie = request.cookies[CSRF_COOKIE];
  return cookie !== undefined && cookie !== "" && request.unsignCookie(cookie).valid;
}

function readToken(request: FastifyRequest): string | undefined {
  const body = request.body;
  if (!body || typeof body !== "object" || !("_csrf" in body)) return undefined;
  return typeof body._csrf === "string" ? body._csrf : undefined;
}
