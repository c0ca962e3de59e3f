import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance } from "fastify";

// Off by default; routes that need it (sign-in) opt in with their own limits.
export async function registerRateLimit(app: FastifyInstance): Promise<void> {
  await app.register(rateLimit, { global: false });
}
