/**
 * Revoking a certified request. Staff propose a revocation with a reason; it takes effect once
 * the approval quorum of distinct staff is reached. Then, in the same transaction, the sealed
 * revocations made at the signing ceremony are published, or, when a certification has none,
 * the revocation waits for the next batch and is applied by the result import.
 */
import { randomUUID } from "node:crypto";
import type { Config } from "../config.ts";
import { checkRevocationReason, describeRevocationReason, isRevocationReasonCode, OPEN_REVOCATION_STATES, REVOCATION_REASONS, REVOCATION_STATE_LABELS } from "../core/revocation-reasons.ts";
import { STATE_LABELS, isRequestState } from "../core/request-lifecycle.ts";
import type { Tx } from "../db/client.ts";
import { ConflictError, FormError, NotFoundError } from "../errors.ts";
import { Prisma } from "../generated/prisma/client.ts";
import { formatDateTime } from "../presenters/helpers.ts";
import { appendAuditEvent } from "../repositories/audit.ts";
import { enqueueEmail } from "../repositories/outbox.ts";
import { readSettings } from "../repositories/settings.ts";
import { messageIdDomain, type Actor, type ServiceContext, type StaffActor } from "./context.ts";
import { emailCommon, renderEmail } from "./mail-templates.ts";
import { revokeSupersededAncestors } from "./renewals.ts";
import { applyTransition, bumpVersion, staleError } from "./request-transitions.ts";

export type RevocationOutcome =
  | { kind: "recorded"; approvals: number; required: number }
  | { kind: "queued"; approvals: number; required: number }
  | { kind: "applied"; approvals: number; required: number };

interface StaffStep {
  requestId: string;
  version: number;
  staff: StaffActor;
}

export class RevocationService {
  constructor(private readonly ctx: ServiceContext) {}

  /** Proposes a revocation; the proposer's approval counts towards the quorum. */
  async propose(input: StaffStep & { reasonCode: string; reasonText: string }): Promise<RevocationOutcome> {
    const reason = checkRevocationReason(input.reasonCode, input.reasonText);
    if (!reason.ok) throw new FormError([{ field: "revoke", code: "KEYSIGN_ERR_REVOCATION_REASON", message: reason.message }]);
    const now = this.ctx.now();
    return this.run(async (tx) => {
      await requireCertified(tx, input);
      const open = await tx.revocation.count({ where: { requestId: input.requestId, state: { in: [...OPEN_REVOCATION_STATES] } } });
      if (open > 0) {
        throw new ConflictError("A revocation of this request is already open. Approve or withdraw it instead of proposing another. Reload the page to see it.", "KEYSIGN_ERR_REVOCATION_OPEN");
      }
      const revocationId = randomUUID();
      await tx.revocation.create({
        data: { id: revocationId, requestId: input.requestId, reasonCode: reason.code, reasonText: reason.text, state: "proposed", proposedById: input.staff.id, createdAt: now },
      });
      await tx.revocationApproval.create({ data: { id: randomUUID(), revocationId, staffId: input.staff.id, createdAt: now } });
      const data = { revocationId, reasonCode: reason.code, reason: describeRevocationReason(reason.code, reason.text) };
      await appendAuditEvent(tx, { ...staffAudit(input.staff), action: "revocation.propose", requestId: input.requestId, data }, now);
      return this.settle(tx, { ...input, revocationId, now });
    });
  }

  async approve(input: StaffStep & { revocationId: string }): Promise<RevocationOutcome> {
    const now = this.ctx.now();
    return this.run(async (tx) => {
      await requireCertified(tx, input);
      await requireProposed(tx, input.requestId, input.revocationId);
      try {
        await tx.revocationApproval.create({ data: { id: randomUUID(), revocationId: input.revocationId, staffId: input.staff.id, createdAt: now } });
      } catch (error) {
        if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002") {
          throw new ConflictError("You have already approved this revocation. Another staff member has to approve it too.", "KEYSIGN_ERR_ALREADY_APPROVED");
        }
        throw error;
      }
      await appendAuditEvent(tx, { ...staffAudit(input.staff), action: "revocation.approve", requestId: input.requestId, data: { revocationId: input.revocationId } }, now);
      return this.settle(tx, { ...input, now });
    });
  }

  /** Ends a proposal that has not reached the quorum, so a different one can be made. */
  async withdraw(input: StaffStep & { revocationId: string }): Promise<void> {
    const now = this.ctx.now();
    await this.ctx.db.$transaction(async (tx) => {
      await requireCertified(tx, input);
      await requireProposed(tx, input.requestId, input.revocationId);
      const updated = await tx.revocation.updateMany({ where: { id: input.revocationId, state: "proposed" }, data: { state: "withdrawn" } });
      if (updated.count !== 1) throw staleError();
      await bumpVersion(tx, input.requestId, input.version, now);
      await appendAuditEvent(tx, { ...staffAudit(input.staff), action: "revocation.withdraw", requestId: input.requestId, data: { revocationId: input.revocationId } }, now);
    });
  }

  private async run(work: (tx: Tx) => Promise<RevocationOutcome>): Promise<RevocationOutcome> {
    const outcome = await this.ctx.db.$transaction(work);
    if (outcome.kind === "applied") {
      this.ctx.mailQueued();
      this.ctx.publicationChanged();
    }
    return outcome;
  }

  /** Short of the quorum: recorded. At the quorum: published from the sealed revocations, or queued for a batch. */
  private async settle(tx: Tx, input: StaffStep & { revocationId: string; now: Date }): Promise<RevocationOutcome> {
    const approvals = await tx.revocationApproval.count({ where: { revocationId: input.revocationId } });
    const { approvalsRequired: required } = await readSettings(tx);
    const counts = { approvals, required };
    if (approvals < required) {
      await bumpVersion(tx, input.requestId, input.version, input.now);
      return { kind: "recorded", ...counts };
    }
    const certifications = await tx.certification.findMany({ where: { requestId: input.requestId, revokedAt: null } });
    const sealed = certifications.flatMap((c) => (c.sealedRevocation ? [{ userId: c.userId, revocation: c.sealedRevocation, certificationId: c.id }] : []));
    if (certifications.length > 0 && sealed.length === certifications.length) {
      const actor: Actor = { type: "staff", id: input.staff.id, ip: input.staff.ip };
      await applyRevocation(tx, { revocationId: input.revocationId, revocations: sealed, actor, expectedVersion: input.version, config: this.ctx.config, now: input.now, source: "sealed" });
      return { kind: "applied", ...counts };
    }
    const queued = await tx.revocation.updateMany({ where: { id: input.revocationId, state: "proposed" }, data: { state: "queued" } });
    if (queued.count !== 1) throw staleError();
    await bumpVersion(tx, input.requestId, input.version, input.now);
    await appendAuditEvent(tx, { ...staffAudit(input.staff), action: "revocation.queue", requestId: input.requestId, data: { revocationId: input.revocationId, ...counts } }, input.now);
    return { kind: "queued", ...counts };
  }
}

/**
 * Applies a revocation whose packets came back signed in a batch result; called by the import
 * inside its transaction. The packets were checked against the batch before this is called;
 * here they must cover exactly the request's certifications that are not revoked yet.
 */
export async function applySignedRevocation(
  tx: Tx,
  input: { revocationId: string; revocations: { userId: string; revocation: Uint8Array }[]; master?: string; actor: Actor; config: Config; now: Date },
): Promise<void> {
  await applyRevocation(tx, { ...input, source: "batch" });
}

/** One revocation packet: of the certification `certificationId` (a sealed one), or of a user ID's certification by the batch's master. */
interface GivenRevocation {
  userId: string;
  revocation: Uint8Array;
  certificationId?: string;
}

interface ApplyInput {
  revocationId: string;
  revocations: GivenRevocation[];
  /** For revocations signed in a batch: that batch's master, whose certifications they revoke. */
  master?: string;
  actor: Actor;
  expectedVersion?: number;
  config: Config;
  now: Date;
  source: "sealed" | "batch";
}

/** Publishes the revocation packets, marks the revocation applied, revokes the request and tells the applicant: one transaction. */
async function applyRevocation(tx: Tx, input: ApplyInput): Promise<void> {
  const revocation = await tx.revocation.findUnique({ where: { id: input.revocationId } });
  if (!revocation) throw new NotFoundError("This revocation does not exist.");
  const allowed = input.source === "sealed" ? ["proposed"] : ["queued", "exported"];
  if (!allowed.includes(revocation.state)) {
    throw new ConflictError(`This revocation is ${(REVOCATION_STATE_LABELS[revocation.state] ?? revocation.state).toLowerCase()}, so it cannot be applied now.`, "KEYSIGN_ERR_REVOCATION_STATE");
  }
  const certifications = await tx.certification.findMany({ where: { requestId: revocation.requestId, revokedAt: null } });
  const given = matchRevocations(certifications, input);
  if (given === null) {
    throw new ConflictError("The revocations do not match the request's certifications one for one; nothing was applied.", "KEYSIGN_ERR_REVOCATION_MISMATCH");
  }
  for (const certification of certifications) {
    const packet = given.get(certification.id) ?? new Uint8Array();
    const updated = await tx.certification.updateMany({ where: { id: certification.id, revokedAt: null }, data: { revocation: new Uint8Array(packet), revokedAt: input.now } });
    if (updated.count !== 1) throw staleError();
  }
  const marked = await tx.revocation.updateMany({ where: { id: revocation.id, state: revocation.state }, data: { state: "applied", appliedAt: input.now } });
  if (marked.count !== 1) throw staleError();
  const reason = describeRevocationReason(revocation.reasonCode, revocation.reasonText);
  const data = { revocationId: revocation.id, reasonCode: revocation.reasonCode, reason, source: input.source, userIds: certifications.map((c) => c.userId) };
  await applyTransition(tx, { requestId: revocation.requestId, event: "revoke", actor: input.actor, expectedVersion: input.expectedVersion, now: input.now, data });
  await revokeSupersededAncestors(tx, { requestId: revocation.requestId, reasonCode: revocation.reasonCode, now: input.now });
  await notifyRevoked(tx, { requestId: revocation.requestId, reasonCode: revocation.reasonCode, reasonText: revocation.reasonText, config: input.config, now: input.now });
}

/**
 * The packet that revokes each certification, by certification id; null unless every one is
 * covered and every packet given is used once. After a master rotation a user ID carries a
 * certification by each master, and each needs a revocation by its own master: a batch's
 * packets revoke its master's certifications, and the others use their sealed revocations.
 */
function matchRevocations(
  certifications: ReadonlyArray<{ id: string; userId: string; masterFingerprint: string; sealedRevocation: Uint8Array | null }>,
  input: Pick<ApplyInput, "revocations" | "master" | "source">,
): Map<string, Uint8Array> | null {
  const matched = new Map<string, Uint8Array>();
  const used = new Set<GivenRevocation>();
  for (const certification of certifications) {
    const explicit = input.revocations.find((r) => r.certificationId === certification.id);
    const signed = input.revocations.find((r) => r.certificationId === undefined && !used.has(r) && r.userId === certification.userId && (input.master === undefined || input.master === (certification.masterFingerprint || input.master)));
    const found = explicit ?? signed;
    if (found) used.add(found);
    const packet = found?.revocation ?? (input.source === "batch" ? certification.sealedRevocation : null);
    if (!packet) return null;
    matched.set(certification.id, packet);
  }
  return used.size === input.revocations.length ? matched : null;
}

export async function notifyRevoked(tx: Tx, input: { requestId: string; reasonCode: string; reasonText: string; config: Config; now: Date }): Promise<void> {
  const request = await tx.request.findUniqueOrThrow({
    where: { id: input.requestId },
    select: { applicant: { select: { email: true } }, keys: { orderBy: { revision: "desc" }, take: 1, select: { fingerprint: true } } },
  });
  const email = renderEmail("request-revoked", {
    fingerprint: request.keys[0]?.fingerprint ?? "",
    revokedAt: formatDateTime(input.now),
    reasonLabel: isRevocationReasonCode(input.reasonCode) ? REVOCATION_REASONS[input.reasonCode] : input.reasonCode,
    reasonText: input.reasonText,
    link: `${input.config.PUBLIC_URL}/requests/${input.requestId}`,
  }, await emailCommon(tx, input.config));
  await enqueueEmail(tx, { ...email, recipient: request.applicant.email }, messageIdDomain(input.config), input.now);
}

async function requireCertified(tx: Tx, input: StaffStep): Promise<void> {
  const request = await tx.request.findUnique({ where: { id: input.requestId }, select: { state: true, version: true } });
  if (!request) throw new NotFoundError();
  if (request.version !== input.version) throw staleError();
  if (request.state !== "certified") {
    const label = isRequestState(request.state) ? STATE_LABELS[request.state].toLowerCase() : request.state;
    throw new ConflictError(`This request is ${label}, not certified, so there is no certification to revoke. Reload the page.`, "KEYSIGN_ERR_STATE");
  }
}

async function requireProposed(tx: Tx, requestId: string, revocationId: string): Promise<void> {
  const revocation = await tx.revocation.findFirst({ where: { id: revocationId, requestId }, select: { state: true } });
  if (!revocation) throw new NotFoundError("This revocation does not exist. Reload the request page.");
  if (revocation.state !== "proposed") {
    const label = (REVOCATION_STATE_LABELS[revocation.state] ?? revocation.state).toLowerCase();
    throw new ConflictError(`This revocation is no longer waiting for approvals (it is ${label}). Reload the page.`, "KEYSIGN_ERR_REVOCATION_STATE");
  }
}

function staffAudit(staff: StaffActor) {
  return { actorType: "staff" as const, actorId: staff.id, ip: staff.ip };
}
