import formbody from "@fastify/formbody";
import type { FastifyInstance } from "fastify";

export async function registerFormbody(app: FastifyInstance): Promise<void> {
  await app.register(formbody, { bodyLimit: 2 * 1024 * 1024 });
}
