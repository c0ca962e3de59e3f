import { randomUUID } from "node:crypto";
import { hashToken, newToken } from "../../src/core/tokens.ts";
import type { TestApp } from "./app.ts";
import { Browser } from "./http.ts";

/**
 * Signs a browser in through the real link route. The link is planted in the database
 * instead of read from a mailbox; the sign-in tests cover the emailed path.
 */
export async function signInAs(t: TestApp, address: string): Promise<Browser> {
  const token = newToken();
  await t.app.db.linkToken.create({
    data: {
      id: randomUUID(),
      tokenHash: hashToken(token),
      purpose: "sign-in",
      address,
      expiresAt: new Date(t.clock.now.getTime() + 60_000),
      createdIp: "127.0.0.1",
      createdAt: t.clock.now,
    },
  });
  const browser = new Browser(t.app);
  const response = await browser.postForm("/sign-in/link", { token }, `/sign-in/link?token=${token}`);
  if (response.statusCode !== 303) throw new Error(`sign-in failed: ${response.statusCode}`);
  return browser;
}
