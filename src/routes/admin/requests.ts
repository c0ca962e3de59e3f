import { createReadStream } from "node:fs";
import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { KeysignError, NotFoundError } from "../../errors.ts";
import { requireStaff, staffActorOf, staffOf } from "../../plugins/app/authorization.ts";
import { dashboardModel } from "../../presenters/review.ts";
import { countByStatus } from "../../repositories/outbox.ts";
import { countByState, findOldestWaiting, listWaitingFor } from "../../repositories/review.ts";
import { loadCertifiedKey } from "../../services/certified-delivery.ts";
import type { StaffActor } from "../../services/context.ts";
import { renderStaffRequest } from "./request-page.ts";
import { sendKeyFile } from "../downloads.ts";

const IdParams = Type.Object({ id: Type.String({ format: "uuid" }) });
const AgreementParams = Type.Object({ id: Type.String({ format: "uuid" }), agreementId: Type.String({ format: "uuid" }) });
const DecisionBody = Type.Object({
  _csrf: Type.Optional(Type.String()),
  version: Type.Integer({ minimum: 1 }),
  reason: Type.String({ maxLength: 8000, default: "" }),
});
const NoteBody = Type.Object({ _csrf: Type.Optional(Type.String()), body: Type.String({ maxLength: 8000, default: "" }) });

/** Review: dashboard, request page, decisions and notes (the list is in request-list.ts). */
const reviewRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const anyStaff = requireStaff();
  const reviewer = requireStaff("reviewer");

  app.get("/", { onRequest: anyStaff }, async (request, reply) => {
    const staff = staffOf(request);
    const [counts, oldest, mine, mail, expiring] = await Promise.all([
      countByState(app.db),
      findOldestWaiting(app.db),
      listWaitingFor(app.db, staff.id),
      countByStatus(app.db),
      app.expiry.expiringSoon(),
    ]);
    return reply.render("admin/dashboard.hbs", dashboardModel({ counts, oldest, mine, mail, expiring, now: app.now() }));
  });

  app.get("/requests/:id", { onRequest: anyStaff, schema: { params: IdParams } }, async (request, reply) =>
    renderStaffRequest(app, request, reply, request.params.id, {}),
  );

  // The full certified key: every certification, and the revocations once published.
  app.get("/requests/:id/certified-key", { onRequest: anyStaff, schema: { params: IdParams } }, async (request, reply) => {
    const file = await loadCertifiedKey(app.db, request.params.id);
    return sendKeyFile(reply, file);
  });

  // Inline for the sandboxed frame on the review page, or as a download.
  app.get("/requests/:id/agreements/:agreementId", { onRequest: anyStaff, schema: { params: AgreementParams, querystring: Type.Object({ inline: Type.Optional(Type.String()) }) } }, async (request, reply) => {
    const agreement = await app.db.agreement.findFirst({ where: { id: request.params.agreementId, requestId: request.params.id } });
    if (!agreement) throw new NotFoundError();
    const disposition = request.query.inline === "1" ? "inline" : "attachment";
    return reply
      .header("Content-Type", "application/pdf")
      .header("Content-Disposition", `${disposition}; filename="agreement-${agreement.revision}.pdf"`)
      .header("Content-Security-Policy", "sandbox; frame-ancestors 'self'")
      .header("X-Frame-Options", "SAMEORIGIN")
      .header("X-Content-Type-Options", "nosniff")
      .send(createReadStream(app.files.agreementPath(agreement.storageName)));
  });

  app.post("/requests/:id/approve", { onRequest: reviewer, schema: { params: IdParams, body: DecisionBody } }, async (request, reply) => {
    await app.review.approve({ requestId: request.params.id, version: request.body.version, staff: staffActorOf(request) });
    return reply.redirect(`/admin/requests/${request.params.id}`, 303);
  });

  for (const [path, decide] of [
    ["reject", (input: DecisionInput) => app.review.reject(input)],
    ["request-changes", (input: DecisionInput) => app.review.requestChanges(input)],
  ] as const) {
    app.post(`/requests/:id/${path}`, { onRequest: reviewer, schema: { params: IdParams, body: DecisionBody } }, async (request, reply) => {
      try {
        await decide({ requestId: request.params.id, version: request.body.version, staff: staffActorOf(request), reason: request.body.reason });
      } catch (error) {
        if (!(error instanceof KeysignError) || error.statusCode !== 400) throw error;
        const problems = [{ field: path, code: error.code, message: error.message }];
        return renderStaffRequest(app, request, reply, request.params.id, { problems, reason: request.body.reason }, 400);
      }
      return reply.redirect(`/admin/requests/${request.params.id}`, 303);
    });
  }

  app.post("/requests/:id/notes", { onRequest: anyStaff, schema: { params: IdParams, body: NoteBody } }, async (request, reply) => {
    await app.review.addNote({ requestId: request.params.id, staff: staffActorOf(request), body: request.body.body });
    return reply.redirect(`/admin/requests/${request.params.id}#notes`, 303);
  });
};

type DecisionInput = { requestId: string; version: number; staff: StaffActor; reason: string };

export default reviewRoutes;
