import { randomBytes, randomUUID } from "node:crypto";
import { hashPassword } from "../../src/core/password-policy.ts";
import { serialiseRoles, type StaffRole } from "../../src/core/roles.ts";
import { newTotpSecret, totpCode, totpStep, TOTP_WINDOW } from "../../src/core/totp.ts";
import type { TestApp } from "./app.ts";
import { Browser } from "./http.ts";

export interface CreatedStaff {
  id: string;
  email: string;
  password: string;
  totpSecret: string;
}

/** Passwords of the accounts made by createStaff, so signInStaff needs only the address. */
const passwords = new WeakMap<TestApp, Map<string, string>>();

/** A staff account with a password and an enrolled second factor, written straight to the database. */
export async function createStaff(t: TestApp, opts: { email: string; roles: StaffRole[]; disabled?: boolean }): Promise<CreatedStaff> {
  const id = randomUUID();
  const password = `pw-${randomBytes(12).toString("base64url")}`;
  const totpSecret = newTotpSecret();
  await t.app.db.staff.create({
    data: {
      id,
      email: opts.email,
      passwordHash: await hashPassword(password),
      roles: serialiseRoles(opts.roles),
      totpSecret,
      totpEnrolledAt: t.clock.now,
      disabledAt: opts.disabled ? t.clock.now : null,
      createdAt: t.clock.now,
    },
  });
  const known = passwords.get(t) ?? new Map<string, string>();
  known.set(opts.email, password);
  passwords.set(t, known);
  return { id, email: opts.email, password, totpSecret };
}

/**
 * The TOTP code to type now. A code is accepted once, so when a test signs the same person
 * in several times at one instant the next step of the window is used, and past the window
 * the record of used steps is cleared (the replay rule has its own tests).
 */
export async function currentTotpCode(t: TestApp, email: string): Promise<string> {
  const staff = await t.app.db.staff.findUniqueOrThrow({ where: { email } });
  if (!staff.totpSecret) throw new Error(`${email} has no TOTP secret`);
  const now = totpStep(t.clock.now);
  const fresh = [now, now + TOTP_WINDOW].find((step) => staff.totpLastStep === null || step > staff.totpLastStep);
  if (fresh !== undefined) return totpCode(staff.totpSecret, fresh);
  await t.app.db.staff.update({ where: { email }, data: { totpLastStep: null } });
  return totpCode(staff.totpSecret, now);
}

/** A browser signed in as a staff member through the real pages: password, then a TOTP code. */
export async function signInStaff(t: TestApp, email: string, password?: string): Promise<Browser> {
  const typed = password ?? passwords.get(t)?.get(email);
  if (typed === undefined) throw new Error(`no password known for ${email}; pass it to signInStaff`);
  const browser = new Browser(t.app);
  const first = await browser.postForm("/admin/login", { email, password: typed }, "/admin/login");
  if (first.statusCode !== 303 || first.headers.location !== "/admin/login/totp") {
    throw new Error(`staff password step failed for ${email}: ${first.statusCode} ${String(first.headers.location ?? "")}`);
  }
  const code = await currentTotpCode(t, email);
  const second = await browser.postForm("/admin/login/totp", { code }, "/admin/login/totp");
  if (second.statusCode !== 303 || second.headers.location !== "/admin") {
    throw new Error(`staff second factor failed for ${email}: ${second.statusCode}`);
  }
  return browser;
}
