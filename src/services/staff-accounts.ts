import { normaliseAddress } from "../core/email-address.ts";
import { ROLE_LABELS, type StaffRole } from "../core/roles.ts";
import { hashToken, newToken } from "../core/tokens.ts";
import type { Db, Tx } from "../db/client.ts";
import { ConflictError, FormError, NotFoundError, type FormProblem } from "../errors.ts";
import { appendAuditEvent } from "../repositories/audit.ts";
import { enqueueEmail } from "../repositories/outbox.ts";
import {
  ACCOUNT_EXISTS_MESSAGE,
  clearSecondFactor,
  countEnabledAdmins,
  createStaffLink,
  deleteStaffSessions,
  expireFirstStartLinks,
  expireInvitesTo,
  findStaffByEmail,
  findStaffById,
  listOpenInvites,
  listStaff,
  revokeInvite,
  setStaffDisabled,
  setStaffRoles,
  type StaffLinkPurpose,
  type StaffLinkRow,
  type StaffRow,
} from "../repositories/staff.ts";
import { messageIdDomain, type ServiceContext, type StaffActor } from "./context.ts";
import { emailCommon, renderEmail } from "./mail-templates.ts";

export const SETUP_LINK_TTL_HOURS = 24;
export const INVITE_TTL_HOURS = 72;

export const STAFF_ACCOUNT_MESSAGES = {
  addressInvalid: "Enter an email address such as reviewer@example.org.",
  noRole: "Choose at least one role. To take all access away, disable the account instead.",
  notSelfDisable: "You cannot disable your own account. Ask another admin.",
  notSelfReset: "You cannot reset your own second factor here. Ask another admin, or sign in with a recovery code.",
  lastAdmin: "This would leave no enabled admin, and nobody could manage staff any more. Make someone else an admin first.",
  inviteGone: "This invitation was already used, revoked or has expired.",
} as const;


export function staffLinkUrl(publicUrl: string, purpose: StaffLinkPurpose, token: string): string {
  const route = purpose === "staff-setup" ? "/admin/setup" : "/admin/invite";
  return `${publicUrl}${route}?token=${token}`;
}

/**
 * A setup link that creates a staff account with `roles` (the first admin, or one made
 * with the command line). `address` is empty when the person chooses it on the page.
 */
export async function issueSetupLink(
  db: Db,
  input: { address: string; roles: readonly StaffRole[]; publicUrl: string; ip: string; replaceFirstStart: boolean },
  now: Date,
): Promise<{ url: string; expiresAt: Date }> {
  const token = newToken();
  const expiresAt = new Date(now.getTime() + SETUP_LINK_TTL_HOURS * 3_600_000);
  await db.$transaction(async (tx) => {
    if (input.replaceFirstStart) await expireFirstStartLinks(tx, now);
    const linkId = await createStaffLink(
      tx,
      { purpose: "staff-setup", tokenHash: hashToken(token), address: input.address, roles: input.roles, invitedBy: null, ip: input.ip, expiresAt },
      now,
    );
    await appendAuditEvent(
      tx,
      { actorType: "system", actorId: null, ip: null, action: "staff.setup_link_created", data: { linkId, address: input.address, roles: input.roles } },
      now,
    );
  });
  return { url: staffLinkUrl(input.publicUrl, "staff-setup", token), expiresAt };
}

/** Admin work on staff accounts. Each change commits together with its audit event. */
export class StaffAccounts {
  constructor(private readonly ctx: ServiceContext) {}

  async overview(): Promise<{ staff: StaffRow[]; invites: StaffLinkRow[] }> {
    const [staff, invites] = await Promise.all([listStaff(this.ctx.db), listOpenInvites(this.ctx.db, this.ctx.now())]);
    return { staff, invites };
  }

  async get(id: string): Promise<StaffRow> {
    const row = await findStaffById(this.ctx.db, id);
    if (!row) throw new NotFoundError();
    return row;
  }

  async invite(actor: StaffActor, input: { email: string; roles: StaffRole[] }): Promise<{ id: string; email: string; expiresAt: Date }> {
    const email = normaliseAddress(input.email);
    const problems: FormProblem[] = [];
    if (!email) problems.push({ field: "email", code: "KEYSIGN_ERR_ADDRESS_INVALID", message: STAFF_ACCOUNT_MESSAGES.addressInvalid });
    if (input.roles.length === 0) problems.push({ field: "roles", code: "KEYSIGN_ERR_NO_ROLE", message: STAFF_ACCOUNT_MESSAGES.noRole });
    if (!email || problems.length > 0) throw new FormError(problems);
    if (await findStaffByEmail(this.ctx.db, email)) {
      throw new FormError([{ field: "email", code: "KEYSIGN_ERR_STAFF_EXISTS", message: ACCOUNT_EXISTS_MESSAGE }], 409);
    }
    const now = this.ctx.now();
    const expiresAt = new Date(now.getTime() + INVITE_TTL_HOURS * 3_600_000);
    const id = await this.ctx.db.$transaction(async (tx) => {
      const inviter = await findStaffById(tx, actor.id);
      await expireInvitesTo(tx, email, now);
      const token = newToken();
      const linkId = await createStaffLink(
        tx,
        { purpose: "staff-invite", tokenHash: hashToken(token), address: email, roles: input.roles, invitedBy: actor.id, ip: actor.ip, expiresAt },
        now,
      );
      const mail = renderEmail("staff-invite", {
        link: staffLinkUrl(this.ctx.config.PUBLIC_URL, "staff-invite", token),
        hours: INVITE_TTL_HOURS,
        roles: input.roles.map((role) => ROLE_LABELS[role].toLowerCase()).join(" and "),
        inviter: inviter?.email ?? "A Keysign admin",
      }, await emailCommon(tx, this.ctx.config));
      await enqueueEmail(tx, { ...mail, recipient: email, expiresAt }, messageIdDomain(this.ctx.config), now);
      await this.audit(tx, actor, "staff.invited", { linkId, email, roles: input.roles }, now);
      return linkId;
    });
    this.ctx.mailQueued();
    return { id, email, expiresAt };
  }

  async revokeInvite(actor: StaffActor, inviteId: string): Promise<void> {
    const now = this.ctx.now();
    await this.ctx.db.$transaction(async (tx) => {
      const revoked = await revokeInvite(tx, inviteId, now);
      if (!revoked) throw new ConflictError(STAFF_ACCOUNT_MESSAGES.inviteGone, "KEYSIGN_ERR_INVITE_GONE");
      await this.audit(tx, actor, "staff.invite_revoked", { linkId: inviteId, email: revoked.address }, now);
    });
  }

  async changeRoles(actor: StaffActor, staffId: string, roles: StaffRole[]): Promise<void> {
    if (roles.length === 0) throw new FormError([{ field: "roles", code: "KEYSIGN_ERR_NO_ROLE", message: STAFF_ACCOUNT_MESSAGES.noRole }]);
    const now = this.ctx.now();
    await this.ctx.db.$transaction(async (tx) => {
      const target = await this.target(tx, staffId);
      const before = target.roles;
      if (before.length === roles.length && before.every((role) => roles.includes(role))) return;
      await setStaffRoles(tx, staffId, roles);
      await this.assertAnAdminRemains(tx);
      await this.audit(tx, actor, "staff.roles_changed", { staffId, email: target.email, from: before, to: roles }, now);
    });
  }

  /** Disabling ends the account's sessions in the same transaction: it is locked out at once. */
  async disable(actor: StaffActor, staffId: string): Promise<void> {
    if (staffId === actor.id) throw new ConflictError(STAFF_ACCOUNT_MESSAGES.notSelfDisable, "KEYSIGN_ERR_STAFF_SELF");
    const now = this.ctx.now();
    await this.ctx.db.$transaction(async (tx) => {
      const target = await this.target(tx, staffId);
      if (target.disabledAt) return;
      await setStaffDisabled(tx, staffId, now);
      await deleteStaffSessions(tx, staffId);
      await this.assertAnAdminRemains(tx);
      await this.audit(tx, actor, "staff.disabled", { staffId, email: target.email }, now);
    });
  }

  async enable(actor: StaffActor, staffId: string): Promise<void> {
    const now = this.ctx.now();
    await this.ctx.db.$transaction(async (tx) => {
      const target = await this.target(tx, staffId);
      if (!target.disabledAt) return;
      await setStaffDisabled(tx, staffId, null);
      await this.audit(tx, actor, "staff.enabled", { staffId, email: target.email }, now);
    });
  }

  /** Forgets the TOTP secret and recovery codes and ends the sessions; the next sign-in enrols anew. */
  async resetSecondFactor(actor: StaffActor, staffId: string): Promise<void> {
    if (staffId === actor.id) throw new ConflictError(STAFF_ACCOUNT_MESSAGES.notSelfReset, "KEYSIGN_ERR_STAFF_SELF");
    const now = this.ctx.now();
    await this.ctx.db.$transaction(async (tx) => {
      const target = await this.target(tx, staffId);
      await clearSecondFactor(tx, staffId);
      await deleteStaffSessions(tx, staffId);
      await this.audit(tx, actor, "staff.second_factor_reset", { staffId, email: target.email }, now);
    });
  }

  private async target(tx: Tx, staffId: string): Promise<StaffRow> {
    const row = await findStaffById(tx, staffId);
    if (!row) throw new NotFoundError("There is no staff account with this id.");
    return row;
  }

  /**
   * Checked after the write, inside the transaction: transactions on the one SQLite
   * connection run one at a time, so two admins demoting each other at once cannot both pass.
   */
  private async assertAnAdminRemains(tx: Tx): Promise<void> {
    if ((await countEnabledAdmins(tx)) === 0) throw new ConflictError(STAFF_ACCOUNT_MESSAGES.lastAdmin, "KEYSIGN_ERR_LAST_ADMIN");
  }

  private async audit(tx: Tx, actor: StaffActor, action: string, data: Record<string, unknown>, now: Date): Promise<void> {
    await appendAuditEvent(tx, { actorType: "staff", actorId: actor.id, ip: actor.ip, action, data }, now);
  }
}
