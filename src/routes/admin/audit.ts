import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { csvRow } from "../../core/csv.ts";
import { requireStaff } from "../../plugins/app/authorization.ts";
import { auditPageModel } from "../../presenters/audit.ts";
import { AUDIT_PAGE_SIZE, listAuditEvents, type AuditFilter } from "../../repositories/audit-log.ts";
import { verifyAuditLog } from "../../services/audit-verify.ts";

const Filter = Type.Object({
  action: Type.Optional(Type.String({ maxLength: 100 })),
  actor: Type.Optional(Type.String({ maxLength: 200 })),
  requestId: Type.Optional(Type.Union([Type.Literal(""), Type.String({ format: "uuid" })])),
  from: Type.Optional(Type.Union([Type.Literal(""), Type.String({ format: "date" })])),
  to: Type.Optional(Type.Union([Type.Literal(""), Type.String({ format: "date" })])),
  page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 }),
});
type FilterQuery = { action?: string; actor?: string; requestId?: string; from?: string; to?: string };

/** The audit log for admins: browse and filter, export as CSV, and the chain's state. */
const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const admin = requireStaff("admin");

  app.get("/audit", { onRequest: admin, schema: { querystring: Filter } }, async (request, reply) => {
    const filter = toFilter(request.query);
    const [{ rows, total }, verdict] = await Promise.all([listAuditEvents(app.db, filter, request.query.page), verifyAuditLog(app.db)]);
    return reply.render("admin/audit.hbs", auditPageModel({ rows, total, page: request.query.page, pages: Math.max(1, Math.ceil(total / AUDIT_PAGE_SIZE)), query: request.query, verdict }));
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

function toFilter(query: FilterQuery): AuditFilter {
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
