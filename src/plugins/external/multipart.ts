import multipart from "@fastify/multipart";
import type { FastifyInstance } from "fastify";

/** The largest file any form takes (the executed agreement); routes check their own fields' sizes. */
export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

// Whole bodies are parsed before the CSRF check (fields attached to the body), with
// explicit limits so a hostile client cannot make the parser work without bound.
export async function registerMultipart(app: FastifyInstance): Promise<void> {
  await app.register(multipart, {
    attachFieldsToBody: true,
    throwFileSizeLimit: true,
    limits: {
      fieldNameSize: 100,
      fieldSize: 1024 * 1024 + 64 * 1024,
      fields: 40,
      fileSize: MAX_UPLOAD_BYTES,
      files: 3,
      parts: 45,
      headerPairs: 50,
    },
  });
}
