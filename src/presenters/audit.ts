import type { ChainVerdict } from "../core/audit-chain.ts";
import type { AuditRow } from "../repositories/audit-log.ts";
import { describeVerdict } from "../services/audit-verify.ts";
import { formatDateTime } from "./helpers.ts";

export function auditPageModel(input: { rows: AuditRow[]; total: number; page: number; pages: number; query: Record<string, unknown>; verdict: ChainVerdict }) {
  const filters = Object.fromEntries(Object.entries(input.query).filter(([k, v]) => k !== "page" && typeof v === "string" && v !== "")) as Record<string, string>;
  const link = (page: number) => new URLSearchParams({ ...filters, page: String(page) }).toString();
  return {
    title: "Audit log",
    chainOk: input.verdict.ok,
    chainMessage: describeVerdict(input.verdict),
    filters,
    csvQuery: new URLSearchParams(filters).toString(),
    total: input.total,
    page: input.page,
    pages: input.pages,
    previous: input.page > 1 ? link(input.page - 1) : null,
    next: input.page < input.pages ? link(input.page + 1) : null,
    rows: input.rows.map((r) => ({
      seq: r.seq,
      at: formatDateTime(r.at),
      actor: r.actorEmail ?? (r.actorId ? `${r.actorType} ${r.actorId.slice(0, 8)}` : r.actorType),
      ip: r.ip ?? "",
      action: r.action,
      requestId: r.requestId,
      transition: r.fromState || r.toState ? `${r.fromState ?? "(new)"} → ${r.toState ?? ""}` : "",
      data: r.data === "{}" ? "" : r.data,
    })),
  };
}
