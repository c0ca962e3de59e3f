import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { KeysignError } from "../../errors.ts";
import { requireStaff, staffActorOf } from "../../plugins/app/authorization.ts";
import { renderStaffRequest } from "./request-page.ts";

const IdParams = Type.Object({ id: Type.String({ format: "uuid" }) });
const RevocationParams = Type.Object({ id: Type.String({ format: "uuid" }), revocationId: Type.String({ format: "uuid" }) });
const ProposeBody = Type.Object({
  _csrf: Type.Optional(Type.String()),
  version: Type.Integer({ minimum: 1 }),
  reasonCode: Type.String({ maxLength: 100, default: "" }),
  // The service allows 500 characters and says so; this only bounds what is read.
  reasonText: Type.String({ maxLength: 8000, default: "" }),
});
const VersionBody = Type.Object({ _csrf: Type.Optional(Type.String()), version: Type.Integer({ minimum: 1 }) });

/**
 * Revoking a certified request: propose with a reason, approve up to the quorum, or withdraw a
 * proposal. The roles are those that approve requests (docs/decisions.md).
 */
const revocationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const reviewer = requireStaff("reviewer");

  app.post("/requests/:id/revocations", { onRequest: reviewer, schema: { params: IdParams, body: ProposeBody } }, async (request, reply) => {
    const { id } = request.params;
    const { version, reasonCode, reasonText } = request.body;
    try {
      await app.revocations.propose({ requestId: id, version, staff: staffActorOf(request), reasonCode, reasonText });
    } catch (error) {
      if (!(error instanceof KeysignError) || error.statusCode !== 400) throw error;
      const problems = [{ field: "revoke", code: error.code, message: error.message }];
      return renderStaffRequest(app, request, reply, id, { problems, revocationForm: { reasonCode, reasonText } }, 400);
    }
    return reply.redirect(`/admin/requests/${id}#certification`, 303);
  });

  app.post("/requests/:id/revocations/:revocationId/approve", { onRequest: reviewer, schema: { params: RevocationParams, body: VersionBody } }, async (request, reply) => {
    const { id, revocationId } = request.params;
    await app.revocations.approve({ requestId: id, revocationId, version: request.body.version, staff: staffActorOf(request) });
    return reply.redirect(`/admin/requests/${id}#certification`, 303);
  });

  app.post("/requests/:id/revocations/:revocationId/withdraw", { onRequest: reviewer, schema: { params: RevocationParams, body: VersionBody } }, async (request, reply) => {
    const { id, revocationId } = request.params;
    await app.revocations.withdraw({ requestId: id, revocationId, version: request.body.version, staff: staffActorOf(request) });
    return reply.redirect(`/admin/requests/${id}#certification`, 303);
  });
};

export default revocationRoutes;
