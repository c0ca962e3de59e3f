import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { csvRow } from "../../core/csv.ts";
import type { FormProblem } from "../../errors.ts";
import { requireStaff } from "../../plugins/app/authorization.ts";
import { auditPageModel, type AuditQuery } from "../../presenters/audit.ts";
import { AUDIT_PAGE_SIZE, findRequestLabel, listAuditEvents, listAuditPage, listStaffEmails, type AuditFilter } from "../../repositories/audit-log.ts";
import { verifyAuditLog } from "../../services/audit-verify.ts";

const Filter = Type.Object({
  action: Type.Optional(Type.String({ maxLength: 100 })),
  actor: Type.Optional(Type.String({ maxLength: 200 })),
  requestId: Type.Optional(Type.Union([Type.Literal(""), Type.String({ format: "uuid" })])),
  from: Type.Optional(Type.Union([Type.Literal(""), Type.String({ format: "date" })])),
  to: Type.Optional(Type.Union([Type.Literal(""), Type.String({ format: "date" })])),
  page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 }),
});

/** The audit log for admins: browse and filter, export as CSV, and the chain's state. */
const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const admin = requireStaff("admin");

  app.get("/audit", { onRequest: admin, schema: { querystring: Filter } }, async (request, reply) => {
    const { page, ...query } = request.query;
    const problems = rangeProblems(query);
    const filter = toFilter(query);
    const [{ rows, total }, verdict, staffEmails, requestLabel] = await Promise.all([
      problems.length > 0 ? { rows: [], total: 0 } : listAuditPage(app.db, filter, page),
      verifyAuditLog(app.db),
      listStaffEmails(app.db),
      filter.requestId ? findRequestLabel(app.db, filter.requestId) : null,
    ]);
    const pages = Math.max(1, Math.ceil(total / AUDIT_PAGE_SIZE));
    const model = auditPageModel({ rows, total, page, pages, query, verdict, staffEmails, request: requestLabel, problems });
    return reply.render("admin/audit.hbs", model, problems.length > 0 ? 400 : 200);
  });

  app.get("/audit.csv", { onRequest: admin, schema: { querystring: Filter } }, async (request, reply) => {
    const { rows } = await listAuditEvents(app.db, toFilter(request.query), null);
    const header = csvRow(["seq", "at", "actor_type", "actor", "ip", "action", "request_id", "from_state", "to_state", "data", "hash"]);
    const body = rows.map((r) => csvRow([r.seq, r.at.toISOString(), r.actorType, r.actorEmail ?? r.actorId, r.ip, r.action, r.requestId, r.fromState, r.toState, r.data, r.hash]));
    return reply
      .header("Content-Type", "text/csv; charset=utf-8")
      .header("Content-Disposition", 'attachment; filename="keysign-audit.csv"')
      .header("X-Content-Type-Options", "nosniff")
      .send(header + body.join(""));
  });
};

/** A range that ends before it starts matches nothing: say so by the field instead of showing an empty log. */
function rangeProblems(query: AuditQuery): FormProblem[] {
  if (!query.from || !query.to || query.from <= query.to) return [];
  return [{ field: "to", code: "KEYSIGN_ERR_DATE_RANGE", message: `The end date (${query.to}) is before the start date (${query.from}). Choose an end date on or after the start date.` }];
}

function toFilter(query: AuditQuery): AuditFilter {
  const day = (value: string | undefined, plusDays = 0) => (value ? new Date(Date.parse(`${value}T00:00:00Z`) + plusDays * 86_400_000) : undefined);
  return {
    action: query.action || undefined,
    actor: query.actor || undefined,
    requestId: query.requestId || undefined,
    from: day(query.from),
    to: day(query.to, 1),
  };
}

export default auditRoutes;
