import helmet from "helmet";
import type { FastifyInstance } from "fastify";

/**
 * Security headers on every answer, with a CSP with no 'unsafe-inline': styles and scripts come
 * only from /public. The headers are built once: @fastify/helmet built them anew for every
 * request, which halved the throughput of the busiest route (docs/decisions.md).
 */
export async function registerHelmet(app: FastifyInstance, opts: { secure: boolean }): Promise<void> {
  const setHeaders = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        frameSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        ...(opts.secure ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    hsts: opts.secure,
    referrerPolicy: { policy: "same-origin" },
  });
  app.addHook("onRequest", (request, reply, done) => {
    setHeaders(request.raw, reply.raw, (error?: unknown) => done(error instanceof Error ? error : undefined));
  });
}
