import cookie from "@fastify/cookie";
import type { FastifyInstance } from "fastify";

export async function registerCookie(app: FastifyInstance, opts: { secret: string }): Promise<void> {
  await app.register(cookie, { secret: opts.secret, hook: "onRequest" });
}
