import type { Config } from "../config.ts";
import type { Tx } from "../db/client.ts";
import { enqueueEmail } from "../repositories/outbox.ts";
import { emailCommon, renderEmail, type EmailTemplate } from "./mail-templates.ts";
import { messageIdDomain } from "./context.ts";

/**
 * Queues an email about a request to its applicant inside the caller's transaction, so the
 * message exists exactly when the change it reports was committed.
 */
export async function notifyApplicantOfRequest(
  tx: Tx,
  config: Config,
  input: { requestId: string; template: EmailTemplate; data?: Record<string, unknown>; now: Date },
): Promise<void> {
  const request = await tx.request.findUniqueOrThrow({
    where: { id: input.requestId },
    include: { applicant: { select: { email: true } }, keys: { orderBy: { revision: "desc" }, take: 1, select: { fingerprint: true } } },
  });
  const email = renderEmail(input.template, {
    ...input.data,
    fingerprint: request.keys[0]?.fingerprint ?? "",
    link: `${config.PUBLIC_URL}/requests/${input.requestId}`,
  }, await emailCommon(tx, config));
  await enqueueEmail(tx, { ...email, recipient: request.applicant.email }, messageIdDomain(config), input.now);
}
