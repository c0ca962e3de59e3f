import { randomUUID } from "node:crypto";
import { normaliseAddress } from "../core/email-address.ts";
import { parseRoles, type StaffRole } from "../core/roles.ts";
import { hashToken, isWellFormedToken, newToken } from "../core/tokens.ts";
import { ConflictError, KeysignError, ValidationError } from "../errors.ts";
import type { Tx } from "../db/client.ts";
import { appendAuditEvent } from "../repositories/audit.ts";
import { enqueueEmail } from "../repositories/outbox.ts";
import { emailCommon, renderEmail } from "./mail-templates.ts";
import { messageIdDomain, type ServiceContext } from "./context.ts";

export const LINK_TTL_MINUTES = 15;
export const SESSION_TTL_HOURS = 12;
export const MAX_ADDRESSES = 10;
const LINK_TTL_MS = LINK_TTL_MINUTES * 60_000;

export type LinkPurpose = "sign-in" | "confirm-address";

export class InvalidLinkError extends KeysignError {
  constructor() {
    super(
      "KEYSIGN_ERR_LINK_INVALID",
      "This link is not valid any more: it was already used, it expired, or it was copied incompletely. Ask for a new one.",
      400,
    );
  }
}

export interface LinkInfo {
  purpose: LinkPurpose;
  address: string;
  /** For confirmations: the sign-in address of the account the address is being added to. */
  accountAddress: string | null;
}

export interface StaffPrincipal {
  id: string;
  email: string;
  roles: StaffRole[];
}

export type SessionPrincipal =
  | { kind: "applicant"; sessionId: string; applicantId: string }
  | { kind: "staff"; sessionId: string; stage: "password" | "full"; staff: StaffPrincipal };

export interface NewSession {
  token: string;
  expiresAt: Date;
}

export class AuthService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * Queues a sign-in link. The caller shows the same answer whatever happens here
   * (unknown address, per-address limit), so nobody learns which addresses exist.
   */
  async requestSignInLink(input: { address: string; ip: string }): Promise<void> {
    const address = normaliseAddress(input.address);
    if (!address) throw new ValidationError("Enter an email address such as dev@example.org.", "KEYSIGN_ERR_ADDRESS_INVALID");
    const now = this.ctx.now();
    if (await this.addressLimitReached(address, now)) {
      this.ctx.log.info({ event: "sign-in.throttled" }, "sign-in link not sent: per-address limit reached");
      return;
    }
    const token = await this.issueLink({ purpose: "sign-in", address, applicantId: null, ip: input.ip }, now);
    if (!this.ctx.config.SMTP_URL) {
      // No mail server configured (local use): the link is also in the log so the portal works on a bare machine.
      this.ctx.log.info({ address }, `sign-in link: ${this.linkUrl("sign-in", token)}`);
    }
  }

  async describeLink(token: string, purpose: LinkPurpose): Promise<LinkInfo> {
    const row = await this.findUsableLink(token, purpose, this.ctx.now());
    const account = row.applicantId
      ? await this.ctx.db.applicant.findUnique({ where: { id: row.applicantId }, select: { email: true } })
      : null;
    return { purpose, address: row.address, accountAddress: account?.email ?? null };
  }

  async completeSignIn(token: string, ip: string): Promise<NewSession & { applicantId: string }> {
    const now = this.ctx.now();
    const session = { token: newToken(), expiresAt: new Date(now.getTime() + SESSION_TTL_HOURS * 3_600_000) };
    const applicantId = await this.ctx.db.$transaction(async (tx) => {
      const link = await this.consumeLink(tx, token, "sign-in", now);
      const known = await tx.emailAddress.findFirst({
        where: { address: link.address, confirmedAt: { not: null } },
        select: { applicantId: true },
      });
      const id = known?.applicantId ?? (await this.createApplicant(tx, link.address, now));
      await tx.session.create({
        data: { id: randomUUID(), tokenHash: hashToken(session.token), applicantId: id, createdAt: now, lastSeenAt: now, expiresAt: session.expiresAt },
      });
      await appendAuditEvent(tx, { actorType: "applicant", actorId: id, ip, action: "applicant.signed_in" }, now);
      return id;
    });
    return { ...session, applicantId };
  }

  /** The live session behind a cookie token: an applicant's, or a staff member's (enabled accounts only). */
  async findSession(token: string): Promise<SessionPrincipal | null> {
    if (!isWellFormedToken(token)) return null;
    const row = await this.ctx.db.session.findUnique({ where: { tokenHash: hashToken(token) }, include: { staff: true } });
    if (!row || row.expiresAt <= this.ctx.now()) return null;
    if (row.applicantId) return { kind: "applicant", sessionId: row.id, applicantId: row.applicantId };
    if (!row.staff || row.staff.disabledAt) return null;
    return {
      kind: "staff",
      sessionId: row.id,
      stage: row.stage === "full" ? "full" : "password",
      staff: { id: row.staff.id, email: row.staff.email, roles: parseRoles(row.staff.roles) },
    };
  }

  async endSession(token: string): Promise<void> {
    if (!isWellFormedToken(token)) return;
    await this.ctx.db.session.deleteMany({ where: { tokenHash: hashToken(token) } });
  }

  async requestAddressConfirmation(input: { applicantId: string; address: string; ip: string }): Promise<string> {
    const address = normaliseAddress(input.address);
    if (!address) throw new ValidationError("Enter an email address such as dev@example.org.", "KEYSIGN_ERR_ADDRESS_INVALID");
    const now = this.ctx.now();
    const existing = await this.ctx.db.emailAddress.findMany({ where: { applicantId: input.applicantId } });
    if (existing.some((row) => row.address === address && row.confirmedAt)) {
      throw new ConflictError("This address is already confirmed on your account.", "KEYSIGN_ERR_ADDRESS_CONFIRMED");
    }
    if (!existing.some((row) => row.address === address) && existing.length >= MAX_ADDRESSES) {
      throw new ValidationError(`An account can hold at most ${MAX_ADDRESSES} addresses. Remove one you no longer use first.`, "KEYSIGN_ERR_ADDRESS_LIMIT");
    }
    if (await this.addressLimitReached(address, now)) {
      throw new ValidationError(
        `We already sent several links to this address in the last ${LINK_TTL_MINUTES} minutes. Use the newest one, or try again later.`,
        "KEYSIGN_ERR_ADDRESS_THROTTLED",
      );
    }
    await this.issueLink({ purpose: "confirm-address", address, applicantId: input.applicantId, ip: input.ip }, now);
    return address;
  }

  async confirmAddress(token: string, ip: string): Promise<{ address: string }> {
    const now = this.ctx.now();
    return this.ctx.db.$transaction(async (tx) => {
      const link = await this.consumeLink(tx, token, "confirm-address", now);
      if (!link.applicantId) throw new InvalidLinkError();
      const owner = await tx.emailAddress.findFirst({
        where: { address: link.address, confirmedAt: { not: null }, applicantId: { not: link.applicantId } },
      });
      if (owner) {
        throw new ConflictError(
          "This address is already confirmed on another Keysign account. Sign in with it to use that account, or ask the Keysign staff for help.",
          "KEYSIGN_ERR_ADDRESS_TAKEN",
        );
      }
      await tx.emailAddress.upsert({
        where: { applicantId_address: { applicantId: link.applicantId, address: link.address } },
        create: { id: randomUUID(), applicantId: link.applicantId, address: link.address, confirmedAt: now, createdAt: now },
        update: { confirmedAt: now },
      });
      await appendAuditEvent(
        tx,
        { actorType: "applicant", actorId: link.applicantId, ip, action: "applicant.address_confirmed", data: { address: link.address } },
        now,
      );
      return { address: link.address };
    });
  }

  private async issueLink(
    input: { purpose: LinkPurpose; address: string; applicantId: string | null; ip: string },
    now: Date,
  ): Promise<string> {
    const token = newToken();
    const expiresAt = new Date(now.getTime() + LINK_TTL_MS);
    const email = renderEmail(input.purpose, { link: this.linkUrl(input.purpose, token), minutes: LINK_TTL_MINUTES }, await emailCommon(this.ctx.db, this.ctx.config));
    await this.ctx.db.$transaction(async (tx) => {
      await tx.linkToken.create({
        data: {
          id: randomUUID(),
          tokenHash: hashToken(token),
          purpose: input.purpose,
          address: input.address,
          applicantId: input.applicantId,
          expiresAt,
          createdIp: input.ip,
          createdAt: now,
        },
      });
      if (input.purpose === "confirm-address" && input.applicantId) {
        await tx.emailAddress.upsert({
          where: { applicantId_address: { applicantId: input.applicantId, address: input.address } },
          create: { id: randomUUID(), applicantId: input.applicantId, address: input.address, createdAt: now },
          update: {},
        });
      }
      await enqueueEmail(tx, { ...email, recipient: input.address, expiresAt }, messageIdDomain(this.ctx.config), now);
    });
    this.ctx.mailQueued();
    return token;
  }

  private linkUrl(purpose: LinkPurpose, token: string): string {
    const route = purpose === "sign-in" ? "/sign-in/link" : "/account/addresses/confirm";
    return `${this.ctx.config.PUBLIC_URL}${route}?token=${token}`;
  }

  private async addressLimitReached(address: string, now: Date): Promise<boolean> {
    const recent = await this.ctx.db.linkToken.count({
      where: { address, createdAt: { gt: new Date(now.getTime() - LINK_TTL_MS) } },
    });
    return recent >= this.ctx.config.SIGNIN_RATE_PER_ADDRESS;
  }

  private async findUsableLink(token: string, purpose: LinkPurpose, now: Date) {
    if (!isWellFormedToken(token)) throw new InvalidLinkError();
    const row = await this.ctx.db.linkToken.findUnique({ where: { tokenHash: hashToken(token) } });
    if (!row || row.purpose !== purpose || row.usedAt || row.expiresAt <= now) throw new InvalidLinkError();
    return row;
  }

  /** Single use even under concurrent clicks: only one conditional update can succeed. */
  private async consumeLink(tx: Tx, token: string, purpose: LinkPurpose, now: Date) {
    if (!isWellFormedToken(token)) throw new InvalidLinkError();
    const tokenHash = hashToken(token);
    const used = await tx.linkToken.updateMany({
      where: { tokenHash, purpose, usedAt: null, expiresAt: { gt: now } },
      data: { usedAt: now },
    });
    if (used.count !== 1) throw new InvalidLinkError();
    const row = await tx.linkToken.findUniqueOrThrow({ where: { tokenHash } });
    return row;
  }

  private async createApplicant(tx: Tx, address: string, now: Date): Promise<string> {
    const id = randomUUID();
    await tx.applicant.create({ data: { id, email: address, createdAt: now } });
    await tx.emailAddress.upsert({
      where: { applicantId_address: { applicantId: id, address } },
      create: { id: randomUUID(), applicantId: id, address, confirmedAt: now, createdAt: now },
      update: {},
    });
    await appendAuditEvent(tx, { actorType: "applicant", actorId: id, ip: null, action: "applicant.created", data: { address } }, now);
    return id;
  }
}
