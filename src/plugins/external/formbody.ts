import formbody from "@fastify/formbody";
import type { FastifyInstance } from "fastify";

/** The largest urlencoded form any route takes: a 4,000-character review reason fits even when every character is percent-encoded UTF-8. */
export const FORM_BODY_LIMIT = 64 * 1024;

/** Urlencoded forms, the body most routes take; each route's bodyLimit (src/routes/body-rules.ts) says the same. */
export async function registerFormbody(app: FastifyInstance): Promise<void> {
  await app.register(formbody, { bodyLimit: FORM_BODY_LIMIT });
}
