import csrf from "@fastify/csrf-protection";
import type { FastifyInstance, FastifyRequest } from "fastify";

/**
 * Double-submit tokens: a signed secret cookie plus a token in every state-changing
 * form (hidden `_csrf` field). Multipart bodies are parsed before the check, so the
 * token is read from either an urlencoded value or a multipart field.
 */
export async function registerCsrf(app: FastifyInstance, opts: { secure: boolean }): Promise<void> {
  await app.register(csrf, {
    sessionPlugin: "@fastify/cookie",
    cookieKey: "ks_csrf",
    cookieOpts: { path: "/", httpOnly: true, sameSite: "lax", secure: opts.secure, signed: true },
    getToken: readToken,
  });
}

function readToken(request: FastifyRequest): string | undefined {
  const body = request.body;
  if (!body || typeof body !== "object" || !("_csrf" in body)) return undefined;
  const value = body._csrf;
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && "value" in value && typeof value.value === "string") return value.value;
  return undefined;
}
