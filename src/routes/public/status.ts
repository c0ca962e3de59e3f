import type { FastifyPluginAsync } from "fastify";

/**
 * The signed status feed and the key that signs it. The feed's bytes are served exactly as
 * signed; a verifier checks `feed.json.sig` against the publication key it pinned.
 */
const statusRoutes: FastifyPluginAsync = async (app) => {
  app.get("/v1/feed.json", async (_request, reply) => {
    const feed = await app.statusFeed.current();
    return reply.type("application/json").send(Buffer.from(feed.body));
  });

  app.get("/v1/feed.json.sig", async (_request, reply) => {
    const feed = await app.statusFeed.stored();
    return reply.type("application/pgp-signature").send(feed.signature);
  });

  app.get("/v1/publication-key.asc", async (_request, reply) => reply.type("application/pgp-keys").send(app.statusFeed.key.publicArmored));
};

export default statusRoutes;
