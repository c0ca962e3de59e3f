import multipart from "@fastify/multipart";
import type { FastifyInstance } from "fastify";

/**
 * Multipart bodies are not parsed by the plugin: a route that takes one declares its limits
 * (src/routes/body-rules.ts) and src/routes/forms.ts reads it part by part, the CSRF token
 * first, after the route has checked who asks. These defaults are the strictest (no file at
 * all); every read passes the route's own limits.
 */
export async function registerMultipart(app: FastifyInstance): Promise<void> {
  await app.register(multipart, {
    throwFileSizeLimit: true,
    limits: {
      fieldNameSize: 100,
      fieldSize: 64 * 1024,
      fields: 20,
      fileSize: 0,
      files: 0,
      parts: 20,
      headerPairs: 20,
    },
  });
}
