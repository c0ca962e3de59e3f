import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { REQUEST_STATES } from "../../core/request-lifecycle.ts";
import { holdsAnyRole } from "../../core/roles.ts";
import { requireStaff, staffOf } from "../../plugins/app/authorization.ts";
import { staffRequestListModel } from "../../presenters/request-list.ts";
import { countNeedingApproval, listStaffRequests, type StaffListFilter } from "../../repositories/request-list.ts";
import { countByState } from "../../repositories/review.ts";
import { readSettings } from "../../repositories/settings.ts";
import { DECISION_ROLES } from "./request-page.ts";

const ListQuery = Type.Object({
  // "mine": needs my approval; "": every state; or one state. Absent: the default for the viewer.
  state: Type.Optional(Type.Union([Type.Literal(""), Type.Literal("mine"), ...REQUEST_STATES.map((s) => Type.Literal(s))])),
  q: Type.Optional(Type.String({ maxLength: 200 })),
  page: Type.Integer({ minimum: 1, maximum: 100_000, default: 1 }),
});

/** The staff request list: reviewers start on what needs their approval, everyone else on all requests. */
const requestListRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get("/requests", { onRequest: requireStaff(), schema: { querystring: ListQuery } }, async (request, reply) => {
    const staff = staffOf(request);
    // The same roles the decision routes accept, so the filter shows exactly for those who can approve.
    const mayReview = holdsAnyRole(staff.roles, DECISION_ROLES);
    const { state, q, page } = request.query;
    const mine = mayReview && (state === "mine" || (state === undefined && !q));
    const filter: StaffListFilter = { show: mine ? "mine" : "all", state: state === "mine" || !state ? undefined : state, query: q, page };
    const viewer = { id: staff.id, email: staff.email };
    const [{ items, total }, counts, needsMyApproval, settings] = await Promise.all([
      listStaffRequests(app.db, filter, viewer),
      countByState(app.db),
      mayReview ? countNeedingApproval(app.db, viewer) : null,
      readSettings(app.db),
    ]);
    const model = staffRequestListModel({ items, total, filter, mayReview, needsMyApproval, counts, approvalsRequired: settings.approvalsRequired, renewalApprovalsRequired: settings.renewalApprovalsRequired, now: app.now() });
    return reply.render("admin/requests/list.hbs", model);
  });
};

export default requestListRoutes;
