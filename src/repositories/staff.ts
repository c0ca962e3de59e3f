import { randomUUID } from "node:crypto";
import { parseRoles, serialiseRoles, type StaffRole } from "../core/roles.ts";
import type { Db, Tx } from "../db/client.ts";
import { ConflictError } from "../errors.ts";
import { Prisma } from "../generated/prisma/client.ts";

/** Either the client or a transaction: reads work the same on both. */
type Client = Db | Tx;

export interface StaffRow {
  id: string;
  email: string;
  passwordHash: string;
  roles: StaffRole[];
  totpSecret: string | null;
  totpEnrolledAt: Date | null;
  totpLastStep: number | null;
  disabledAt: Date | null;
  createdAt: Date;
}

export type StaffLinkPurpose = "staff-setup" | "staff-invite";

export interface StaffLinkRow {
  id: string;
  purpose: StaffLinkPurpose;
  /** Empty for a first-start setup link: the new admin chooses the address. */
  address: string;
  roles: StaffRole[];
  invitedBy: string | null;
  expiresAt: Date;
  createdAt: Date;
}

type StaffRecord = Prisma.StaffGetPayload<object>;
type LinkRecord = Prisma.LinkTokenGetPayload<object>;

function toStaffRow(row: StaffRecord): StaffRow {
  return { ...row, roles: parseRoles(row.roles) };
}

function toLinkRow(row: LinkRecord): StaffLinkRow {
  const purpose: StaffLinkPurpose = row.purpose === "staff-setup" ? "staff-setup" : "staff-invite";
  return {
    id: row.id,
    purpose,
    address: row.address,
    roles: parseRoles(row.staffRoles ?? ""),
    invitedBy: row.invitedBy,
    expiresAt: row.expiresAt,
    createdAt: row.createdAt,
  };
}

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002";
}

// ---- accounts -------------------------------------------------------------------------

export async function findStaffByEmail(db: Client, email: string): Promise<StaffRow | null> {
  const row = await db.staff.findUnique({ where: { email } });
  return row ? toStaffRow(row) : null;
}

export async function findStaffById(db: Client, id: string): Promise<StaffRow | null> {
  const row = await db.staff.findUnique({ where: { id } });
  return row ? toStaffRow(row) : null;
}

export async function listStaff(db: Client): Promise<StaffRow[]> {
  const rows = await db.staff.findMany({ orderBy: { email: "asc" } });
  return rows.map(toStaffRow);
}

export async function countEnabledAdmins(db: Client): Promise<number> {
  const rows = await db.staff.findMany({ where: { disabledAt: null }, select: { roles: true } });
  return rows.filter((row) => parseRoles(row.roles).includes("admin")).length;
}

export const ACCOUNT_EXISTS_MESSAGE = "A staff account with this address already exists.";

export async function createStaffAccount(
  tx: Tx,
  input: { email: string; passwordHash: string; roles: readonly StaffRole[] },
  now: Date,
): Promise<string> {
  const id = randomUUID();
  try {
    await tx.staff.create({ data: { id, email: input.email, passwordHash: input.passwordHash, roles: serialiseRoles(input.roles), createdAt: now } });
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError(ACCOUNT_EXISTS_MESSAGE, "KEYSIGN_ERR_STAFF_EXISTS");
    throw error;
  }
  return id;
}

export async function setStaffRoles(tx: Tx, id: string, roles: readonly StaffRole[]): Promise<void> {
  await tx.staff.update({ where: { id }, data: { roles: serialiseRoles(roles) } });
}

export async function setStaffDisabled(tx: Tx, id: string, disabledAt: Date | null): Promise<void> {
  await tx.staff.update({ where: { id }, data: { disabledAt } });
}

/** Forgets the second factor entirely: the next sign-in enrols a new one. */
export async function clearSecondFactor(tx: Tx, id: string): Promise<void> {
  await tx.staff.update({ where: { id }, data: { totpSecret: null, totpEnrolledAt: null, totpLastStep: null } });
  await tx.recoveryCode.deleteMany({ where: { staffId: id } });
}

/** The secret shown during enrolment; only kept while no factor is enrolled. */
export async function setPendingTotpSecret(db: Client, id: string, secret: string): Promise<void> {
  await db.staff.updateMany({ where: { id, totpEnrolledAt: null }, data: { totpSecret: secret } });
}

/** Marks enrolment done; false when it already was (a second confirmation in another tab). */
export async function completeTotpEnrolment(tx: Tx, id: string, step: number, now: Date): Promise<boolean> {
  const done = await tx.staff.updateMany({ where: { id, totpEnrolledAt: null }, data: { totpEnrolledAt: now, totpLastStep: step } });
  return done.count === 1;
}

/** Records a used TOTP step. Conditional, so two requests with the same code cannot both pass. */
export async function acceptTotpStep(tx: Tx, id: string, step: number): Promise<boolean> {
  const done = await tx.staff.updateMany({
    where: { id, OR: [{ totpLastStep: null }, { totpLastStep: { lt: step } }] },
    data: { totpLastStep: step },
  });
  return done.count === 1;
}

// ---- recovery codes -------------------------------------------------------------------

export async function replaceRecoveryCodes(tx: Tx, staffId: string, codeHashes: readonly string[]): Promise<void> {
  await tx.recoveryCode.deleteMany({ where: { staffId } });
  await tx.recoveryCode.createMany({ data: codeHashes.map((codeHash) => ({ id: randomUUID(), staffId, codeHash })) });
}

/** Spends a recovery code; false when it is unknown or already spent. */
export async function useRecoveryCode(tx: Tx, staffId: string, codeHash: string, now: Date): Promise<boolean> {
  const used = await tx.recoveryCode.updateMany({ where: { staffId, codeHash, usedAt: null }, data: { usedAt: now } });
  return used.count === 1;
}

// ---- sessions -------------------------------------------------------------------------

export async function createStaffSession(
  tx: Tx,
  input: { staffId: string; stage: "password" | "full"; tokenHash: string; expiresAt: Date },
  now: Date,
): Promise<void> {
  await tx.session.create({ data: { id: randomUUID(), ...input, createdAt: now, lastSeenAt: now } });
}

export async function deleteSession(tx: Tx, id: string): Promise<void> {
  await tx.session.deleteMany({ where: { id } });
}

export async function deleteStaffSessions(tx: Tx, staffId: string): Promise<void> {
  await tx.session.deleteMany({ where: { staffId } });
}

// ---- login attempts -------------------------------------------------------------------

export async function recordLoginAttempt(db: Client, subjects: readonly string[], success: boolean, at: Date): Promise<void> {
  await db.loginAttempt.createMany({ data: subjects.map((subject) => ({ subject, success, at })) });
}

/** Attempts older than `before` no longer count for anything. */
export async function pruneLoginAttempts(db: Client, before: Date): Promise<void> {
  await db.loginAttempt.deleteMany({ where: { at: { lt: before } } });
}

/** Failures for a subject since `since` and after its last success, newest first. */
export async function recentFailures(db: Client, subject: string, since: Date, resetBySuccess: boolean): Promise<Date[]> {
  const success = resetBySuccess
    ? await db.loginAttempt.findFirst({ where: { subject, success: true, at: { gt: since } }, orderBy: { at: "desc" }, select: { at: true } })
    : null;
  const rows = await db.loginAttempt.findMany({
    where: { subject, success: false, at: { gt: success?.at ?? since } },
    orderBy: { at: "desc" },
    take: 64,
    select: { at: true },
  });
  return rows.map((row) => row.at);
}

// ---- setup and invitation links -------------------------------------------------------

export async function createStaffLink(
  tx: Tx,
  input: { purpose: StaffLinkPurpose; tokenHash: string; address: string; roles: readonly StaffRole[]; invitedBy: string | null; ip: string; expiresAt: Date },
  now: Date,
): Promise<string> {
  const id = randomUUID();
  await tx.linkToken.create({
    data: {
      id,
      tokenHash: input.tokenHash,
      purpose: input.purpose,
      address: input.address,
      staffRoles: serialiseRoles(input.roles),
      invitedBy: input.invitedBy,
      expiresAt: input.expiresAt,
      createdIp: input.ip,
      createdAt: now,
    },
  });
  return id;
}

/** A link that can still be used, or null. */
export async function findUsableStaffLink(db: Client, tokenHash: string, purpose: StaffLinkPurpose, now: Date): Promise<StaffLinkRow | null> {
  const row = await db.linkToken.findUnique({ where: { tokenHash } });
  if (!row || row.purpose !== purpose || row.usedAt || row.expiresAt <= now) return null;
  return toLinkRow(row);
}

/** Single use even under concurrent submits: only one conditional update can succeed. */
export async function consumeStaffLink(tx: Tx, tokenHash: string, purpose: StaffLinkPurpose, now: Date): Promise<StaffLinkRow | null> {
  const used = await tx.linkToken.updateMany({ where: { tokenHash, purpose, usedAt: null, expiresAt: { gt: now } }, data: { usedAt: now } });
  if (used.count !== 1) return null;
  return toLinkRow(await tx.linkToken.findUniqueOrThrow({ where: { tokenHash } }));
}

export async function listOpenInvites(db: Client, now: Date): Promise<StaffLinkRow[]> {
  const rows = await db.linkToken.findMany({
    where: { purpose: "staff-invite", usedAt: null, expiresAt: { gt: now } },
    orderBy: { createdAt: "asc" },
  });
  return rows.map(toLinkRow);
}

/** Ends earlier open invitations to an address: a new invitation replaces them. */
export async function expireInvitesTo(tx: Tx, address: string, now: Date): Promise<void> {
  await tx.linkToken.updateMany({ where: { purpose: "staff-invite", address, usedAt: null, expiresAt: { gt: now } }, data: { expiresAt: now } });
}

/** Ends an open invitation early; null when there is no open one with that id. */
export async function revokeInvite(tx: Tx, id: string, now: Date): Promise<StaffLinkRow | null> {
  const row = await tx.linkToken.findFirst({ where: { id, purpose: "staff-invite", usedAt: null, expiresAt: { gt: now } } });
  if (!row) return null;
  await tx.linkToken.update({ where: { id }, data: { expiresAt: now } });
  return toLinkRow(row);
}

/** Ends earlier unused first-start links, so only the newest printed one works. */
export async function expireFirstStartLinks(tx: Tx, now: Date): Promise<void> {
  await tx.linkToken.updateMany({ where: { purpose: "staff-setup", address: "", usedAt: null, expiresAt: { gt: now } }, data: { expiresAt: now } });
}
