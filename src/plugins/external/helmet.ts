import helmet from "@fastify/helmet";
import type { FastifyInstance } from "fastify";

// A CSP with no 'unsafe-inline': styles and scripts come only from /public.
export async function registerHelmet(app: FastifyInstance, opts: { secure: boolean }): Promise<void> {
  await app.register(helmet, {
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
}
