/**
 * Key replacement: the owner of a certified key asks to certify a new key in its place (the
 * old one lost, weak or rotated). "Replace this key" opens the normal request form with a form
 * token that names the old request; the request it creates is linked (`replacesRequestId`).
 * Once the new key is certified, the owner chooses on its page whether the old certification
 * is revoked now (its sealed revocations, reason "superseded") or left to expire.
 */
import type { Db, Tx } from "../db/client.ts";
import { ConflictError, FormError, NotFoundError } from "../errors.ts";
import { appendAuditEvent } from "../repositories/audit.ts";
import { findRenewalOf, findRequestLinks } from "../repositories/renewals.ts";
import { issueFormToken } from "../repositories/requests.ts";
import { hashToken, newToken } from "../core/tokens.ts";
import type { ServiceContext } from "./context.ts";
import { FORM_TOKEN_TTL_MS } from "./requests.ts";
import { applyTransition } from "./request-transitions.ts";
import { notifyRevoked } from "./revocations.ts";
import { revokeSupersededAncestors } from "./renewals.ts";

export type ReplacedChoice = "revoke" | "expire";

export function isReplacedChoice(value: string): value is ReplacedChoice {
  return value === "revoke" || value === "expire";
}

/** What the new request's page says about the replaced certification. */
export interface ReplacementPanel {
  replacesRequestId: string;
  /** Whether the new key is certified, so the owner may choose. */
  certified: boolean;
  choice: ReplacedChoice | null;
  /** The old request was revoked: the choice is final. */
  oldRevoked: boolean;
}

export class ReplacementService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * A new-request form token that names `requestId` as the request to replace: only the owner's
   * certified request. The form is the normal one; the token carries the link.
   */
  async startReplacement(requestId: string, applicantId: string): Promise<string> {
    const old = await this.ctx.db.request.findFirst({ where: { id: requestId, applicantId }, select: { state: true } });
    if (!old) throw new NotFoundError();
    if (old.state !== "certified") {
      throw new ConflictError("Only a certified key can be replaced. Make a new request for the new key instead.", "KEYSIGN_ERR_REPLACE_STATE");
    }
    await refuseIfRenewed(this.ctx.db, requestId);
    const token = newToken();
    const now = this.ctx.now();
    // Through the same cap as every form token: each view of the form makes one.
    await issueFormToken(this.ctx.db, { tokenHash: hashToken(token), applicantId, createdAt: now, expiresAt: new Date(now.getTime() + FORM_TOKEN_TTL_MS), replacesRequestId: requestId });
    return token;
  }

  async panelFor(requestId: string, state: string): Promise<ReplacementPanel | null> {
    const links = await findRequestLinks(this.ctx.db, requestId);
    if (!links.replacesRequestId) return null;
    const old = await this.ctx.db.request.findUnique({ where: { id: links.replacesRequestId }, select: { state: true } });
    return { replacesRequestId: links.replacesRequestId, certified: state === "certified" || state === "revoked", choice: isReplacedChoice(links.replacedChoice ?? "") ? (links.replacedChoice as ReplacedChoice) : null, oldRevoked: old?.state === "revoked" };
  }

  /** The owner's choice for the replaced certification: recorded and audited; "revoke" applies the sealed revocations at once. */
  async choose(input: { requestId: string; applicantId: string; choice: string; ip: string }): Promise<void> {
    if (!isReplacedChoice(input.choice)) throw new FormError([{ field: "replacedChoice", code: "KEYSIGN_ERR_REPLACED_CHOICE", message: "Choose whether the old certification is revoked now or left to expire." }]);
    const choice = input.choice;
    const now = this.ctx.now();
    const revoked = await this.ctx.db.$transaction(async (tx) => {
      const request = await tx.request.findFirst({ where: { id: input.requestId, applicantId: input.applicantId }, select: { state: true, replacesRequestId: true } });
      if (!request?.replacesRequestId) throw new NotFoundError();
      if (request.state !== "certified") throw new ConflictError("Choose once the new key is certified: until then the old certification is the one installs rely on.", "KEYSIGN_ERR_REPLACED_TOO_EARLY");
      const old = await tx.request.findUniqueOrThrow({ where: { id: request.replacesRequestId }, select: { id: true, state: true } });
      if (old.state === "revoked") throw new ConflictError("The old certification is already revoked, so the choice can no longer change.", "KEYSIGN_ERR_REPLACED_FINAL");
      await tx.request.update({ where: { id: input.requestId }, data: { replacedChoice: choice } });
      const actor = { actorType: "applicant" as const, actorId: input.applicantId, ip: input.ip };
      await appendAuditEvent(tx, { ...actor, action: "request.replaced_choice", requestId: input.requestId, data: { replaces: old.id, choice } }, now);
      if (choice === "revoke") await revokeReplaced(tx, this.ctx, { oldRequestId: old.id, newRequestId: input.requestId, now });
      return choice === "revoke";
    });
    if (revoked) {
      this.ctx.mailQueued();
      this.ctx.publicationChanged();
    }
  }
}

/**
 * The replaced request's certifications revoked with their sealed revocations (made at the
 * ceremony that certified them), reason "superseded": the same bytes staff's revocation would
 * publish. A certification without a sealed revocation needs the master key, so that case is
 * left to staff.
 */
async function revokeReplaced(tx: Tx, ctx: ServiceContext, input: { oldRequestId: string; newRequestId: string; now: Date }): Promise<void> {
  await refuseIfRenewed(tx, input.oldRequestId);
  const certifications = await tx.certification.findMany({ where: { requestId: input.oldRequestId, revokedAt: null } });
  if (certifications.length === 0 || certifications.some((c) => c.sealedRevocation === null)) {
    throw new ConflictError("The old certification has no sealed revocation on file, so it cannot be revoked at once. Leave it to expire, or ask staff to revoke it.", "KEYSIGN_ERR_NO_SEALED_REVOCATION");
  }
  for (const certification of certifications) {
    await tx.certification.update({ where: { id: certification.id }, data: { revocation: certification.sealedRevocation, revokedAt: input.now } });
  }
  const data = { reasonCode: "superseded", reason: "Superseded by a new key", source: "sealed", replacedBy: input.newRequestId, userIds: certifications.map((c) => c.userId) };
  await applyTransition(tx, { requestId: input.oldRequestId, event: "revoke", actor: { type: "system", id: null, ip: null }, now: input.now, data });
  await revokeSupersededAncestors(tx, { requestId: input.oldRequestId, reasonCode: "superseded", now: input.now });
  await notifyRevoked(tx, { requestId: input.oldRequestId, reasonCode: "superseded", reasonText: "", config: ctx.config, now: input.now });
}

/**
 * A renewed certification lives on in its renewal: replacing or revoking the old request alone
 * would leave the same key certified there, so both point to the renewal instead.
 */
async function refuseIfRenewed(db: Db | Tx, requestId: string): Promise<void> {
  const renewal = await findRenewalOf(db, requestId);
  if (renewal) {
    throw new ConflictError(`This certification was renewed on request ${renewal.id} (/requests/${renewal.id}); replace or revoke the key from there.`, "KEYSIGN_ERR_REPLACE_RENEWED");
  }
}

/**
 * Called in the transaction that creates a request from the form: when the form was opened by
 * "Replace this key", links the new request to the old one. The same key is not a replacement.
 */
export async function linkReplacement(tx: Tx, input: { tokenHash: string; requestId: string; fingerprint: string }): Promise<void> {
  const token = await tx.requestFormToken.findUnique({ where: { tokenHash: input.tokenHash }, select: { replacesRequestId: true } });
  if (!token?.replacesRequestId) return;
  const old = await tx.requestKey.findFirst({ where: { requestId: token.replacesRequestId }, orderBy: { revision: "desc" }, select: { fingerprint: true } });
  if (old?.fingerprint === input.fingerprint) {
    throw new FormError([{ field: "key", code: "KEYSIGN_ERR_REPLACE_SAME_KEY", message: "This is the key being replaced. Submit the new key; to certify the same key again, renew its certification instead." }]);
  }
  await tx.request.update({ where: { id: input.requestId }, data: { replacesRequestId: token.replacesRequestId } });
}
