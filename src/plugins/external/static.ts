import path from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";

export const PUBLIC_DIR = path.resolve(import.meta.dirname, "../../../public");

export async function registerStatic(app: FastifyInstance): Promise<void> {
  await app.register(fastifyStatic, { root: PUBLIC_DIR, prefix: "/public/", index: false, dotfiles: "deny" });
}
