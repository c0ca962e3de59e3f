import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply } from "fastify";
import { isKeysignError } from "../../errors.ts";
import { requireStaff, staffActorOf } from "../../plugins/app/authorization.ts";
import { keyserverPushesModel } from "../../presenters/keyserver-pushes.ts";

const PushParams = Type.Object({ id: Type.String({ format: "uuid" }) });
const PageQuery = Type.Object({ retried: Type.Optional(Type.String({ maxLength: 1 })) });
const RetryBody = Type.Object({ _csrf: Type.Optional(Type.String({ maxLength: 200 })) });

/**
 * Pushes to upstream keyservers: per keyserver what waits, what was sent and what failed for
 * good, and "retry now" for a failed push. Admins only: what fixes a failing push is the
 * portal's configuration (PUBLISH_KEYSERVERS), its network or a word with the keyserver's
 * operator, all an admin's to handle; reviewers and signing officers decide about keys, and a
 * push decides nothing about a key.
 */
const publicationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const admin = requireStaff("admin");

  app.get("/publication", { onRequest: admin, schema: { querystring: PageQuery } }, async (request, reply) => show(reply, { retried: request.query.retried === "1" }));

  app.post("/publication/pushes/:id/retry", { onRequest: admin, schema: { params: PushParams, body: RetryBody } }, async (request, reply) => {
    try {
      await app.keyserverPush.retry(request.params.id, staffActorOf(request));
    } catch (error) {
      if (!isKeysignError(error) || error.statusCode !== 409) throw error;
      return show(reply, { retried: false, error: error.message }, error.statusCode);
    }
    return reply.redirect("/admin/publication?retried=1", 303);
  });

  async function show(reply: FastifyReply, flash: { retried: boolean; error?: string }, status = 200) {
    return reply.render("admin/publication.hbs", keyserverPushesModel({ overview: await app.keyserverPush.overview(), ...flash }), status);
  }
};

export default publicationRoutes;
