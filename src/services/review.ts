import { randomUUID } from "node:crypto";
import { KEY_ENDED_CODE, keyEndedApprovalMessage, keyEndingRevocation } from "../core/key-history.ts";
import { DEFAULT_KEY_POLICY, inspectKey } from "../core/key-policy.ts";
import type { Tx } from "../db/client.ts";
import { ConflictError, KeysignError, NotFoundError, ValidationError } from "../errors.ts";
import { Prisma } from "../generated/prisma/client.ts";
import { appendAuditEvent } from "../repositories/audit.ts";
import { enqueueEmail } from "../repositories/outbox.ts";
import { findKeyRevocationHistory, type PastRevocation } from "../repositories/revocations.ts";
import { messageIdDomain, type Actor, type ServiceContext, type StaffActor } from "./context.ts";
import { emailCommon, renderEmail, type EmailTemplate } from "./mail-templates.ts";
import { approvalsRequiredFor } from "./renewals.ts";
import { applyTransition, bumpVersion, staleError } from "./request-transitions.ts";
import { sendReviewDigest } from "./review-digest.ts";

export const MAX_REASON_LENGTH = 4000;

export type ApprovalOutcome = { kind: "recorded"; approvals: number; required: number } | { kind: "queued"; approvals: number; required: number };

export class ReviewService {
  constructor(private readonly ctx: ServiceContext) {}

  /** Emails reviewers one summary of the requests that arrived since the last one. */
  sendDigest(): Promise<number> {
    return sendReviewDigest(this.ctx);
  }

  /**
   * One approval of the request's current revision. When the quorum of distinct staff is
   * reached the request is approved and moves to the signing queue, in the same transaction.
   */
  async approve(input: { requestId: string; version: number; staff: StaffActor }): Promise<ApprovalOutcome> {
    const { requestId, staff } = input;
    await this.refuseOwnRequest(requestId, staff.email);
    await this.revalidateKey(requestId);
    const now = this.ctx.now();
    const actor = actorOf(staff);
    const outcome = await this.ctx.db.$transaction(async (tx) => {
      const request = await this.currentRevision(tx, requestId);
      if (request.version !== input.version) throw staleError();
      if (request.state !== "submitted" && request.state !== "in_review") {
        throw new ConflictError(`This request is ${request.state.replace("_", " ")}, so it cannot be approved now. Reload the page.`, "KEYSIGN_ERR_STATE");
      }
      // In the transaction: a revocation applied while the request waited is seen, never raced.
      await refuseEndedKey(tx, request.fingerprint);
      await recordApproval(tx, requestId, request.revision, staff.id, now);
      const approvals = await tx.approval.count({ where: { requestId, revision: request.revision } });
      const required = await approvalsRequiredFor(tx, requestId);
      const data = { revision: request.revision, approvals, required };
      if (approvals < required) {
        const version = request.state === "submitted"
          ? (await applyTransition(tx, { requestId, event: "start_review", actor, expectedVersion: input.version, now })).version
          : input.version;
        await bumpVersion(tx, requestId, version, now);
        await appendAuditEvent(tx, { actorType: "staff", actorId: staff.id, ip: staff.ip, action: "request.approval", requestId, data }, now);
        return { kind: "recorded" as const, approvals, required };
      }
      await applyTransition(tx, { requestId, event: "approve", actor, expectedVersion: input.version, now, data });
      await applyTransition(tx, { requestId, event: "enqueue", actor: { type: "system", id: null, ip: null }, now });
      await this.notifyApplicant(tx, requestId, "request-approved", {}, now);
      return { kind: "queued" as const, approvals, required };
    });
    this.ctx.mailQueued();
    return outcome;
  }

  /** The key's applied revocations on other requests, oldest first, for the reviewers' history panel. */
  async keyHistory(requestId: string, fingerprint: string): Promise<PastRevocation[]> {
    const history = await findKeyRevocationHistory(this.ctx.db, fingerprint);
    return history.filter((revocation) => revocation.requestId !== requestId);
  }

  async reject(input: { requestId: string; version: number; staff: StaffActor; reason: string }): Promise<void> {
    const reason = requireText(input.reason, "Give the reason for the rejection: the applicant receives it by email.");
    await this.decide(input, "reject", "request-rejected", reason);
  }

  async requestChanges(input: { requestId: string; version: number; staff: StaffActor; reason: string }): Promise<void> {
    const reason = requireText(input.reason, "Say what the applicant should change: they receive it by email.");
    await this.decide(input, "request_changes", "changes-requested", reason);
  }

  async addNote(input: { requestId: string; staff: StaffActor; body: string }): Promise<void> {
    const body = requireText(input.body, "Write the note before saving it.");
    const now = this.ctx.now();
    await this.ctx.db.$transaction(async (tx) => {
      const exists = await tx.request.count({ where: { id: input.requestId } });
      if (exists === 0) throw new NotFoundError();
      const id = randomUUID();
      await tx.staffNote.create({ data: { id, requestId: input.requestId, staffId: input.staff.id, body, createdAt: now } });
      await appendAuditEvent(tx, { actorType: "staff", actorId: input.staff.id, ip: input.staff.ip, action: "request.note", requestId: input.requestId, data: { noteId: id } }, now);
    });
  }

  private async decide(
    input: { requestId: string; version: number; staff: StaffActor },
    event: "reject" | "request_changes",
    template: EmailTemplate,
    reason: string,
  ): Promise<void> {
    const now = this.ctx.now();
    await this.ctx.db.$transaction(async (tx) => {
      await applyTransition(tx, { requestId: input.requestId, event, actor: actorOf(input.staff), expectedVersion: input.version, now, data: { reason } });
      await this.notifyApplicant(tx, input.requestId, template, { reason }, now);
    });
    this.ctx.mailQueued();
  }

  private async notifyApplicant(tx: Tx, requestId: string, template: EmailTemplate, data: Record<string, unknown>, now: Date): Promise<void> {
    const request = await tx.request.findUniqueOrThrow({
      where: { id: requestId },
      include: { applicant: { select: { email: true } }, keys: { orderBy: { revision: "desc" }, take: 1, select: { fingerprint: true } } },
    });
    const email = renderEmail(template, { ...data, fingerprint: request.keys[0]?.fingerprint ?? "", link: `${this.ctx.config.PUBLIC_URL}/requests/${requestId}` }, await emailCommon(tx, this.ctx.config));
    await enqueueEmail(tx, { ...email, recipient: request.applicant.email }, messageIdDomain(this.ctx.config), now);
  }

  private async currentRevision(tx: Tx, requestId: string) {
    const request = await tx.request.findUnique({
      where: { id: requestId },
      select: { state: true, version: true, keys: { orderBy: { revision: "desc" }, take: 1, select: { revision: true, fingerprint: true } } },
    });
    if (!request) throw new NotFoundError();
    return { state: request.state, version: request.version, revision: request.keys[0]?.revision ?? 1, fingerprint: request.keys[0]?.fingerprint ?? "" };
  }

  /** Staff may also be applicants; nobody approves a request made for their own confirmed address. */
  private async refuseOwnRequest(requestId: string, staffEmail: string): Promise<void> {
    const own = await this.ctx.db.request.count({
      where: { id: requestId, applicant: { addresses: { some: { address: staffEmail.toLowerCase(), confirmedAt: { not: null } } } } },
    });
    if (own > 0) throw new KeysignError("KEYSIGN_ERR_SELF_APPROVAL", "You cannot approve a request you submitted. Another staff member has to review it.", 403);
  }

  /** The key is checked again now: it may have expired or been revoked since it was uploaded. */
  private async revalidateKey(requestId: string): Promise<void> {
    const key = await this.ctx.db.requestKey.findFirst({ where: { requestId }, orderBy: { revision: "desc" }, select: { canonicalKey: true } });
    if (!key) throw new NotFoundError();
    const result = await inspectKey(key.canonicalKey, { ...DEFAULT_KEY_POLICY, minRsaBits: this.ctx.config.MIN_RSA_BITS, now: this.ctx.now() });
    if (result.ok) return;
    const reasons = result.problems.map((p) => p.message).join(" ");
    throw new ConflictError(`This key cannot be approved any more: ${reasons} Ask the applicant for changes or reject the request.`, "KEYSIGN_ERR_KEY_NO_LONGER_VALID");
  }
}

async function recordApproval(tx: Tx, requestId: string, revision: number, staffId: string, now: Date): Promise<void> {
  try {
    await tx.approval.create({ data: { id: randomUUID(), requestId, revision, staffId, createdAt: now } });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002") {
      throw new ConflictError("You have already approved this version of the request. Another staff member has to approve it too.", "KEYSIGN_ERR_ALREADY_APPROVED");
    }
    throw error;
  }
}

/** A key revoked as compromised or for a malicious module is never certified again (see RequestService.checkKey). */
async function refuseEndedKey(tx: Tx, fingerprint: string): Promise<void> {
  const ended = keyEndingRevocation(await findKeyRevocationHistory(tx, fingerprint));
  if (ended) throw new ConflictError(keyEndedApprovalMessage(ended), KEY_ENDED_CODE);
}

function actorOf(staff: StaffActor): Actor {
  return { type: "staff", id: staff.id, ip: staff.ip };
}

function requireText(value: string, message: string): string {
  const text = value.trim();
  if (!text) throw new ValidationError(message, "KEYSIGN_ERR_REASON_REQUIRED");
  if (text.length > MAX_REASON_LENGTH) throw new ValidationError(`Keep it under ${MAX_REASON_LENGTH} characters.`, "KEYSIGN_ERR_REASON_TOO_LONG");
  return text;
}
