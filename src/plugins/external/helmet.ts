import helmet from "helmet";
import type { FastifyInstance } from "fastify";

/**
 * Security headers on every answer, with a CSP with no 'unsafe-*' source: styles and scripts come
 * only from the portal (/public, and pdf.js under /vendor with its worker), and the agreement
 * viewer fetches the PDF from the portal too. No page frames anything: agreements are drawn on
 * canvases, not in a frame. The headers are built once: @fastify/helmet built them anew for every
 * request, which halved the throughput of the busiest route (docs/decisions.md).
 */
export async function registerHelmet(app: FastifyInstance, opts: { secure: boolean }): Promise<void> {
  const setHeaders = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        workerSrc: ["'self'"],
        connectSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        frameSrc: ["'none'"],
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
