import fp from "fastify-plugin";
import type { FastifyInstance } from "fastify";

/**
 * Nothing the portal renders or sends is cached (SECURITY.md): signed-in pages, agreements,
 * keys and transfer files must not stay in a shared or browser cache. Static assets set their
 * own Cache-Control and keep it.
 */
async function noStore(app: FastifyInstance): Promise<void> {
  app.addHook("onSend", async (_request, reply, payload) => {
    if (!reply.hasHeader("cache-control")) reply.header("Cache-Control", "no-store");
    return payload;
  });
}

export default fp(noStore, { name: "keysign-no-store" });
