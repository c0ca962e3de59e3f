import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { requireStaff, staffActorOf } from "../../plugins/app/authorization.ts";

const VisibilityBody = Type.Object({
  _csrf: Type.Optional(Type.String()),
  show: Type.Union([Type.Literal("yes"), Type.Literal("no")]),
});

/** The admin's setup checklist lives on the dashboard; admins may hide it before it is done, and show it again. */
const setupChecklistRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const admin = requireStaff("admin");

  app.post("/setup-checklist", { onRequest: admin, schema: { body: VisibilityBody } }, async (request, reply) => {
    await app.setupChecklist.setHidden(request.body.show === "no", staffActorOf(request));
    return reply.redirect("/admin#setup-checklist", 303);
  });
};

export default setupChecklistRoutes;
