import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { Browser } from "../helpers/http.ts";
import { signInAs } from "../helpers/session.ts";
import { findLink, TestSmtpServer } from "../helpers/smtp.ts";

describe("confirming more addresses", () => {
  let smtp: TestSmtpServer;
  let t: TestApp;
  let dev: Browser;

  before(async () => {
    smtp = new TestSmtpServer();
    t = await createTestApp({ SMTP_URL: await smtp.start(), SIGNIN_RATE_PER_ADDRESS: "3" });
    dev = await signInAs(t, "dev@example.org");
  });
  after(async () => {
    await t.close();
    await smtp.stop();
  });
  beforeEach(() => {
    smtp.received.length = 0;
  });

  async function addAddress(browser: Browser, address: string) {
    const response = await browser.postForm("/account/addresses", { address }, "/account");
    await t.app.mail.deliverDue();
    return response;
  }

  function tokenOf(index = 0): string {
    return new URL(findLink(smtp.received[index]!, "/account/addresses/confirm?token=")).searchParams.get("token") ?? "";
  }

  it("sends a link to the new address, and the address is confirmed by using it", async () => {
    const response = await addAddress(dev, "work@example.com");
    assert.equal(response.statusCode, 200);
    assert.match(response.body, /We sent a confirmation link to <strong>work@example.com<\/strong>/);
    assert.match(response.body, /work@example.com<\/td>\s*<td><span class="state state-submitted">Waiting for confirmation/);
    assert.deepEqual(smtp.received[0]?.to, ["work@example.com"]);
    const token = tokenOf();

    // The page behind the link names the account the address joins.
    const page = await new Browser(t.app).get(`/account/addresses/confirm?token=${token}`);
    assert.match(page.body, /adds <strong>work@example.com<\/strong> to the Keysign account of <strong>dev@example.org<\/strong>/);

    // Possession of the link is the proof: it works from a browser without the session.
    const confirmed = await new Browser(t.app).postForm("/account/addresses/confirm", { token }, `/account/addresses/confirm?token=${token}`);
    assert.equal(confirmed.statusCode, 200);
    assert.match(confirmed.body, /is confirmed/);
    const account = await dev.get("/account");
    assert.match(account.body, /work@example.com<\/td>\s*<td><span class="state state-certified">Confirmed 2026-11-24/);
  });

  it("lets the applicant sign in with a confirmed address", async () => {
    await t.app.auth.requestSignInLink({ address: "work@example.com", ip: "127.0.0.1" });
    await t.app.mail.deliverDue();
    const token = new URL(findLink(smtp.received[0]!, "/sign-in/link?token=")).searchParams.get("token") ?? "";
    await t.app.auth.completeSignIn(token, "127.0.0.1");
    assert.equal(await t.app.db.applicant.count({ where: { email: "work@example.com" } }), 0);
  });

  it("refuses an address confirmed on another account", async () => {
    const other = await signInAs(t, "other@example.net");
    await addAddress(other, "work@example.com");
    const token = tokenOf();
    const response = await other.postForm("/account/addresses/confirm", { token }, `/account/addresses/confirm?token=${token}`);
    assert.equal(response.statusCode, 409);
    assert.match(response.body, /already confirmed on another Keysign account/);
    const row = await t.app.db.emailAddress.findFirst({ where: { address: "work@example.com", applicant: { email: "other@example.net" } } });
    assert.equal(row?.confirmedAt, null);
  });

  it("refuses an address already confirmed on this account", async () => {
    const response = await addAddress(dev, "dev@example.org");
    assert.equal(response.statusCode, 409);
    assert.match(response.body, /already confirmed on your account/);
    assert.equal(smtp.received.length, 0);
  });

  it("refuses a malformed address and sends nothing", async () => {
    const before = await t.app.db.outboxEmail.count();
    const response = await addAddress(dev, "not an address");
    assert.equal(response.statusCode, 400);
    assert.match(response.body, /Enter an email address such as dev@example.org/);
    assert.equal(await t.app.db.outboxEmail.count(), before);
  });

  it("limits links per address and says so to the signed-in applicant", async () => {
    for (let i = 0; i < 3; i++) assert.equal((await addAddress(dev, "busy@example.com")).statusCode, 200);
    const fourth = await addAddress(dev, "busy@example.com");
    assert.equal(fourth.statusCode, 400);
    assert.match(fourth.body, /already sent several links to this address/);
    assert.equal(smtp.received.length, 3);
  });

  it("needs a signed-in applicant to add an address", async () => {
    const anonymous = new Browser(t.app);
    const response = await anonymous.postForm("/account/addresses", { address: "x@example.com" }, "/sign-in");
    assert.equal(response.statusCode, 303);
    assert.equal(response.headers.location, "/sign-in");
  });

  it("refuses a used, unknown or sign-in token on the confirmation route", async () => {
    await t.app.auth.requestSignInLink({ address: "dev@example.org", ip: "127.0.0.1" });
    await t.app.mail.deliverDue();
    const signInToken = new URL(findLink(smtp.received[0]!, "/sign-in/link?token=")).searchParams.get("token") ?? "";
    for (const token of [signInToken, "B".repeat(22)]) {
      const response = await new Browser(t.app).get(`/account/addresses/confirm?token=${token}`);
      assert.equal(response.statusCode, 400);
      assert.match(response.body, /This link is not valid any more/);
    }
  });
});
