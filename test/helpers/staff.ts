import { randomBytes, randomUUID } from "node:crypto";
import { hashPassword, verifyPassword } from "../../src/core/password-policy.ts";
import { serialiseRoles, type StaffRole } from "../../src/core/roles.ts";
import { hashToken, newToken } from "../../src/core/tokens.ts";
import { newTotpSecret } from "../../src/core/totp.ts";
import type { TestApp } from "./app.ts";
import { Browser } from "./http.ts";

export interface CreatedStaff {
  id: string;
  email: string;
  password: string;
  totpSecret: string;
}

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
  return { id, email: opts.email, password, totpSecret };
}

/**
 * A browser signed in as a staff member with both factors. For now the session is planted in
 * the database; the staff sign-in tests cover the real pages.
 */
export async function signInStaff(t: TestApp, email: string, password?: string): Promise<Browser> {
  const staff = await t.app.db.staff.findUniqueOrThrow({ where: { email } });
  if (password !== undefined && !(await verifyPassword(staff.passwordHash, password))) throw new Error(`wrong password for ${email}`);
  const token = newToken();
  await t.app.db.session.create({
    data: {
      id: randomUUID(),
      tokenHash: hashToken(token),
      staffId: staff.id,
      stage: "full",
      createdAt: t.clock.now,
      lastSeenAt: t.clock.now,
      expiresAt: new Date(t.clock.now.getTime() + 8 * 3_600_000),
    },
  });
  const browser = new Browser(t.app);
  browser.setCookie("ks_session", token);
  return browser;
}
