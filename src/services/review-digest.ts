import { parseRoles } from "../core/roles.ts";
import { enqueueEmail } from "../repositories/outbox.ts";
import { messageIdDomain, type ServiceContext } from "./context.ts";
import { emailCommon, renderEmail } from "./mail-templates.ts";

const DIGEST_SETTING = "reviewDigestUntil";
/** How often reviewers hear about new requests: one summary per period, never one email per request. */
export const DIGEST_INTERVAL_MS = 10 * 60_000;

/**
 * Tells reviewers about requests submitted since the last summary, in one email each.
 * The high-water mark moves in the same transaction as the emails, so a request is
 * announced exactly once.
 */
export async function sendReviewDigest(ctx: ServiceContext): Promise<number> {
  const now = ctx.now();
  const sent = await ctx.db.$transaction(async (tx) => {
    const mark = await tx.setting.findUnique({ where: { key: DIGEST_SETTING } });
    const since = mark ? new Date(mark.value) : new Date(0);
    const fresh = await tx.request.findMany({
      where: { createdAt: { gt: since, lte: now } },
      orderBy: { createdAt: "asc" },
      include: { applicant: { select: { email: true } }, keys: { orderBy: { revision: "desc" }, take: 1, select: { fingerprint: true } } },
    });
    if (fresh.length === 0) return 0;
    const reviewers = (await tx.staff.findMany({ where: { disabledAt: null } })).filter((s) => parseRoles(s.roles).includes("reviewer"));
    const email = renderEmail("review-digest", {
      count: fresh.length,
      dashboard: `${ctx.config.PUBLIC_URL}/admin`,
      requests: fresh.map((r) => ({ fingerprint: r.keys[0]?.fingerprint ?? "", applicant: r.applicant.email, link: `${ctx.config.PUBLIC_URL}/admin/requests/${r.id}` })),
    }, await emailCommon(tx, ctx.config));
    for (const reviewer of reviewers) {
      await enqueueEmail(tx, { ...email, recipient: reviewer.email }, messageIdDomain(ctx.config), now);
    }
    await tx.setting.upsert({ where: { key: DIGEST_SETTING }, create: { key: DIGEST_SETTING, value: now.toISOString(), updatedAt: now }, update: { value: now.toISOString(), updatedAt: now } });
    return reviewers.length;
  });
  if (sent > 0) ctx.mailQueued();
  return sent;
}
