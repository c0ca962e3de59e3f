import { randomBytes } from "node:crypto";
import { normaliseAddress } from "../core/email-address.ts";
import { ACCOUNT_THROTTLE, ADDRESS_THROTTLE, describeWait, nextAttemptAt, type ThrottleRule } from "../core/login-throttle.ts";
import { hashPassword, passwordProblem, PASSWORD_MESSAGES, verifyPassword } from "../core/password-policy.ts";
import { hashToken, newToken } from "../core/tokens.ts";
import { base32Encode, newTotpSecret, verifyTotp } from "../core/totp.ts";
import type { Tx } from "../db/client.ts";
import { ConflictError, FormError, KeysignError, TooManyRequestsError, type FormProblem } from "../errors.ts";
import { appendAuditEvent } from "../repositories/audit.ts";
import {
  acceptTotpStep,
  completeTotpEnrolment,
  consumeStaffLink,
  countEnabledAdmins,
  createStaffAccount,
  createStaffSession,
  deleteSession,
  findStaffById,
  findStaffByEmail,
  findUsableStaffLink,
  pruneLoginAttempts,
  recentFailures,
  recordLoginAttempt,
  replaceRecoveryCodes,
  setPendingTotpSecret,
  useRecoveryCode,
  type StaffLinkPurpose,
  type StaffLinkRow,
  type StaffRow,
} from "../repositories/staff.ts";
import { InvalidLinkError, type NewSession } from "./auth.ts";
import type { ServiceContext } from "./context.ts";
import { issueSetupLink, StaffAccounts, STAFF_ACCOUNT_MESSAGES } from "./staff-accounts.ts";

export const STAFF_SESSION_HOURS = 8;
/** Between the password and the second factor (enrolment included). */
export const PENDING_SESSION_MINUTES = 15;
export const RECOVERY_CODE_COUNT = 10;
const LOGIN_ATTEMPT_RETENTION_MS = 24 * 3_600_000;

export const STAFF_AUTH_MESSAGES = {
  loginFailed: "Email or password is wrong.",
  codeWrong:
    "That code is not right, or it was already used. Enter the code your authenticator app shows now, or one of your recovery codes.",
  enrolCodeWrong: "That code does not match. Check that the clock of your device is right, then enter the code shown now.",
  throttled: (wait: string) => `Too many failed sign-ins for this account or from your network. Wait ${wait}, then try again.`,
} as const;

export class LoginFailedError extends KeysignError {
  constructor() {
    super("KEYSIGN_ERR_LOGIN_FAILED", STAFF_AUTH_MESSAGES.loginFailed, 401);
  }
}

export class SecondFactorError extends KeysignError {
  constructor(message: string = STAFF_AUTH_MESSAGES.codeWrong) {
    super("KEYSIGN_ERR_SECOND_FACTOR", message, 401);
  }
}

export class LoginThrottledError extends TooManyRequestsError {
  constructor(readonly retryAfterSeconds: number) {
    super(STAFF_AUTH_MESSAGES.throttled(describeWait(retryAfterSeconds * 1000)));
  }
}

/** Recovery codes: 80 random bits as 16 base32 letters, shown in groups of four. */
export function normaliseRecoveryCode(typed: string): string | null {
  const clean = typed.replace(/[\s-]/g, "").toLowerCase();
  return /^[a-z2-7]{16}$/.test(clean) ? clean : null;
}

function newRecoveryCode(): string {
  return base32Encode(randomBytes(10)).toLowerCase().replace(/(.{4})(?!$)/g, "$1-");
}

/** Staff sign-in: password, second factor, enrolment, and the setup and invitation links. */
export class StaffAuthService {
  /** Admin work on accounts (invite, roles, disable, reset). */
  readonly accounts: StaffAccounts;
  private dummyHash: Promise<string> | null = null;

  constructor(private readonly ctx: ServiceContext) {
    this.accounts = new StaffAccounts(ctx);
  }

  /**
   * Checks email and password. Unknown addresses, disabled accounts and wrong passwords
   * get the same error after the same argon2 work, so neither the answer nor its timing
   * tells which addresses have accounts.
   */
  async login(input: { email: string; password: string; ip: string }): Promise<{ session: NewSession; enrolled: boolean }> {
    const email = normaliseAddress(input.email) ?? input.email.trim().toLowerCase().slice(0, 320);
    await this.assertNotThrottled(email, input.ip);
    const staff = await findStaffByEmail(this.ctx.db, email);
    const matches = await verifyPassword(staff?.passwordHash ?? (await this.dummyPasswordHash()), input.password);
    if (!staff || !matches || staff.disabledAt) {
      await this.recordFailure(email, input.ip);
      throw new LoginFailedError();
    }
    const session = await this.ctx.db.$transaction((tx) => this.startSession(tx, staff.id, "password"));
    return { session, enrolled: staff.totpEnrolledAt !== null };
  }

  /** The second step: a TOTP code or an unused recovery code turns the session into a full one (new token). */
  async verifySecondFactor(input: { sessionId: string; staffId: string; code: string; ip: string }): Promise<NewSession> {
    const staff = await this.enabledStaff(input.staffId);
    await this.assertNotThrottled(staff.email, input.ip);
    if (!staff.totpSecret || !staff.totpEnrolledAt) throw new ConflictError("Set up your authenticator app first.", "KEYSIGN_ERR_NOT_ENROLLED");
    const secret = staff.totpSecret;
    const now = this.ctx.now();
    const session = await this.ctx.db.$transaction(async (tx) => {
      const method = await this.spendSecondFactor(tx, staff, secret, input.code, now);
      if (!method) return null;
      await deleteSession(tx, input.sessionId);
      const created = await this.startSession(tx, staff.id, "full");
      await recordLoginAttempt(tx, [accountSubject(staff.email)], true, now);
      await appendAuditEvent(tx, { actorType: "staff", actorId: staff.id, ip: input.ip, action: "staff.signed_in", data: { method } }, now);
      return created;
    });
    if (!session) {
      await this.recordFailure(staff.email, input.ip);
      throw new SecondFactorError();
    }
    return session;
  }

  /** The secret to enrol, made on first view and kept until confirmed; null once enrolled. */
  async enrolment(staffId: string): Promise<{ email: string; secret: string } | null> {
    const staff = await this.enabledStaff(staffId);
    if (staff.totpEnrolledAt) return null;
    if (staff.totpSecret) return { email: staff.email, secret: staff.totpSecret };
    await setPendingTotpSecret(this.ctx.db, staffId, newTotpSecret());
    const fresh = await this.enabledStaff(staffId);
    if (!fresh.totpSecret) throw new Error("the TOTP secret was not stored");
    return { email: fresh.email, secret: fresh.totpSecret };
  }

  async isEnrolled(staffId: string): Promise<boolean> {
    const staff = await findStaffById(this.ctx.db, staffId);
    return Boolean(staff?.totpEnrolledAt);
  }

  /** Confirms enrolment with a first code; returns the full session and the recovery codes, shown once. */
  async confirmEnrolment(input: { sessionId: string; staffId: string; code: string; ip: string }): Promise<{ session: NewSession; recoveryCodes: string[] }> {
    const staff = await this.enabledStaff(input.staffId);
    const now = this.ctx.now();
    const step = staff.totpSecret && !staff.totpEnrolledAt ? verifyTotp(staff.totpSecret, input.code, now, null) : null;
    if (step === null) throw new SecondFactorError(STAFF_AUTH_MESSAGES.enrolCodeWrong);
    const recoveryCodes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    const session = await this.ctx.db.$transaction(async (tx) => {
      if (!(await completeTotpEnrolment(tx, staff.id, step, now))) {
        throw new ConflictError("Your authenticator app is already set up. Sign in with a code from it.", "KEYSIGN_ERR_ENROLLED");
      }
      await replaceRecoveryCodes(tx, staff.id, recoveryCodes.map((code) => hashToken(normaliseRecoveryCode(code) ?? code)));
      await deleteSession(tx, input.sessionId);
      const created = await this.startSession(tx, staff.id, "full");
      await recordLoginAttempt(tx, [accountSubject(staff.email)], true, now);
      await appendAuditEvent(tx, { actorType: "staff", actorId: staff.id, ip: input.ip, action: "staff.second_factor_enrolled" }, now);
      return created;
    });
    return { session, recoveryCodes };
  }

  async describeLink(token: string, purpose: StaffLinkPurpose): Promise<StaffLinkRow> {
    const link = await findUsableStaffLink(this.ctx.db, hashToken(token), purpose, this.ctx.now());
    if (!link) throw new InvalidLinkError();
    return link;
  }

  /**
   * Creates the account a setup or invitation link stands for, with a password-stage
   * session: enrolling the second factor comes next, before anything else.
   */
  async acceptLink(input: { token: string; purpose: StaffLinkPurpose; email: string; password: string; passwordAgain: string; ip: string }): Promise<NewSession> {
    const link = await this.describeLink(input.token, input.purpose);
    const email = link.address || normaliseAddress(input.email);
    const problems = newAccountProblems(email, input.password, input.passwordAgain);
    if (!email || problems.length > 0) throw new FormError(problems);
    const passwordHash = await hashPassword(input.password);
    const now = this.ctx.now();
    return this.ctx.db.$transaction(async (tx) => {
      const used = await consumeStaffLink(tx, hashToken(input.token), input.purpose, now);
      if (!used) throw new InvalidLinkError();
      const staffId = await createStaffAccount(tx, { email, passwordHash, roles: used.roles }, now);
      await appendAuditEvent(
        tx,
        { actorType: "staff", actorId: staffId, ip: input.ip, action: "staff.created", data: { email, roles: used.roles, via: input.purpose, invitedBy: used.invitedBy } },
        now,
      );
      return this.startSession(tx, staffId, "password");
    });
  }

  /** On a portal with no enabled admin: a fresh one-time link to create the first one. */
  async firstStartSetupLink(): Promise<string | null> {
    if ((await countEnabledAdmins(this.ctx.db)) > 0) return null;
    const link = await issueSetupLink(
      this.ctx.db,
      { address: "", roles: ["admin"], publicUrl: this.ctx.config.PUBLIC_URL, ip: "console", replaceFirstStart: true },
      this.ctx.now(),
    );
    return link.url;
  }

  /** Which second factor was spent, or null when the code is wrong or already used. */
  private async spendSecondFactor(tx: Tx, staff: StaffRow, secret: string, code: string, now: Date): Promise<"totp" | "recovery_code" | null> {
    const recovery = /^\s*\d{3}\s?\d{3}\s*$/.test(code) ? null : normaliseRecoveryCode(code);
    if (recovery) return (await useRecoveryCode(tx, staff.id, hashToken(recovery), now)) ? "recovery_code" : null;
    const step = verifyTotp(secret, code, now, staff.totpLastStep);
    return step !== null && (await acceptTotpStep(tx, staff.id, step)) ? "totp" : null;
  }

  private async startSession(tx: Tx, staffId: string, stage: "password" | "full"): Promise<NewSession> {
    const now = this.ctx.now();
    const ttl = stage === "full" ? STAFF_SESSION_HOURS * 3_600_000 : PENDING_SESSION_MINUTES * 60_000;
    const session = { token: newToken(), expiresAt: new Date(now.getTime() + ttl) };
    await createStaffSession(tx, { staffId, stage, tokenHash: hashToken(session.token), expiresAt: session.expiresAt }, now);
    return session;
  }

  private async enabledStaff(staffId: string): Promise<StaffRow> {
    const staff = await findStaffById(this.ctx.db, staffId);
    if (!staff || staff.disabledAt) throw new LoginFailedError();
    return staff;
  }

  private async assertNotThrottled(email: string, ip: string): Promise<void> {
    const now = this.ctx.now();
    const waits = await Promise.all([
      this.waitUntil(accountSubject(email), ACCOUNT_THROTTLE, true, now),
      this.waitUntil(addressSubject(ip), ADDRESS_THROTTLE, false, now),
    ]);
    const until = Math.max(...waits.map((at) => at?.getTime() ?? 0));
    if (until > now.getTime()) throw new LoginThrottledError(Math.ceil((until - now.getTime()) / 1000));
  }

  private async recordFailure(email: string, ip: string): Promise<void> {
    const now = this.ctx.now();
    await recordLoginAttempt(this.ctx.db, subjectsFor(email, ip), false, now);
    // Only the last hour counts; a day is kept so the table stays small whatever the traffic.
    await pruneLoginAttempts(this.ctx.db, new Date(now.getTime() - LOGIN_ATTEMPT_RETENTION_MS));
  }

  private async waitUntil(subject: string, rule: ThrottleRule, resetBySuccess: boolean, now: Date): Promise<Date | null> {
    const failures = await recentFailures(this.ctx.db, subject, new Date(now.getTime() - rule.windowMs), resetBySuccess);
    return nextAttemptAt(rule, failures, now);
  }

  /** A hash to verify against when the address is unknown, so that path costs the same. */
  private dummyPasswordHash(): Promise<string> {
    this.dummyHash ??= hashPassword(randomBytes(18).toString("base64url"));
    return this.dummyHash;
  }
}

function accountSubject(email: string): string {
  return `account:${email}`;
}

function addressSubject(ip: string): string {
  return `ip:${ip}`;
}

function subjectsFor(email: string, ip: string): string[] {
  return [accountSubject(email), addressSubject(ip)];
}

function newAccountProblems(email: string | null, password: string, again: string): FormProblem[] {
  const problems: FormProblem[] = [];
  if (!email) problems.push({ field: "email", code: "KEYSIGN_ERR_ADDRESS_INVALID", message: STAFF_ACCOUNT_MESSAGES.addressInvalid });
  const weak = passwordProblem(password, email ?? "");
  if (weak) problems.push({ field: "password", code: "KEYSIGN_ERR_PASSWORD_WEAK", message: weak });
  else if (password !== again) problems.push({ field: "passwordAgain", code: "KEYSIGN_ERR_PASSWORD_MISMATCH", message: PASSWORD_MESSAGES.mismatch });
  return problems;
}
