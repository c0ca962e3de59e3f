import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { Browser } from "../helpers/http.ts";
import { findLink, TestSmtpServer } from "../helpers/smtp.ts";

describe("sign-in with an emailed link", () => {
  let smtp: TestSmtpServer;
  let t: TestApp;

  before(async () => {
    smtp = new TestSmtpServer();
    const url = await smtp.start();
    t = await createTestApp({ SMTP_URL: url, SIGNIN_RATE_PER_ADDRESS: "3", SIGNIN_RATE_PER_IP: "1000" });
  });
  after(async () => {
    await t.close();
    await smtp.stop();
  });
  beforeEach(async () => {
    smtp.received.length = 0;
    await t.app.db.linkToken.deleteMany();
    await t.app.db.outboxEmail.deleteMany();
  });

  async function askForLink(browser: Browser, address: string) {
    const response = await browser.postForm("/sign-in", { address }, "/sign-in");
    await t.app.mail.deliverDue();
    return response;
  }

  it("sends a single-use link that signs in and creates the applicant", async () => {
    const browser = new Browser(t.app);
    const asked = await askForLink(browser, "Dev@Example.org");
    assert.equal(asked.statusCode, 200);
    assert.match(asked.body, /If this address can use Keysign, a sign-in link is on its way/);
    assert.equal(smtp.received.length, 1);
    assert.deepEqual(smtp.received[0]?.to, ["dev@example.org"]);
    const link = new URL(findLink(smtp.received[0]!, "/sign-in/link?token="));

    // Opening the link does not use it (mail scanners prefetch links).
    const landing = await browser.get(link.pathname + link.search);
    assert.equal(landing.statusCode, 200);
    assert.match(landing.body, /signing in as <strong>dev@example.org<\/strong>/);
    assert.equal(await t.app.db.applicant.count(), 0);

    const token = link.searchParams.get("token") ?? "";
    const signedIn = await browser.postForm("/sign-in/link", { token }, link.pathname + link.search);
    assert.equal(signedIn.statusCode, 303);
    assert.equal(signedIn.headers.location, "/requests");
    assert.equal(await t.app.db.applicant.count({ where: { email: "dev@example.org" } }), 1);
    const mine = await browser.get("/requests");
    assert.equal(mine.statusCode, 200);
    assert.match(mine.body, /My requests/);

    // Used once: a second use is refused with a clear message.
    const again = await new Browser(t.app).postForm("/sign-in/link", { token }, "/sign-in");
    assert.equal(again.statusCode, 400);
    assert.match(again.body, /This link is not valid any more/);
  });

  it("stores only the hash of the token", async () => {
    await askForLink(new Browser(t.app), "hash@example.org");
    const token = new URL(findLink(smtp.received[0]!, "/sign-in/link?token=")).searchParams.get("token") ?? "";
    const rows = await t.app.db.linkToken.findMany();
    assert.equal(rows.length, 1);
    assert.notEqual(rows[0]?.tokenHash, token);
    assert.ok(!JSON.stringify(rows).includes(token));
  });

  it("refuses a link after 15 minutes", async () => {
    const browser = new Browser(t.app);
    await askForLink(browser, "late@example.org");
    const token = new URL(findLink(smtp.received[0]!, "/sign-in/link?token=")).searchParams.get("token") ?? "";
    const start = t.clock.now;
    t.clock.now = new Date(start.getTime() + 15 * 60_000 + 1);
    try {
      const response = await browser.postForm("/sign-in/link", { token }, "/sign-in");
      assert.equal(response.statusCode, 400);
      assert.match(response.body, /expired/);
      assert.equal(await t.app.db.applicant.count({ where: { email: "late@example.org" } }), 0);
    } finally {
      t.clock.now = start;
    }
  });

  it("answers the same for a known and an unknown address", async () => {
    const known = await askForLink(new Browser(t.app), "dev@example.org");
    const unknown = await askForLink(new Browser(t.app), "nobody-here@example.org");
    const strip = (html: string) => html.replace(/name="_csrf" value="[^"]+"/g, "");
    assert.equal(known.statusCode, unknown.statusCode);
    assert.equal(strip(known.body), strip(unknown.body));
  });

  it("sends at most the per-address limit, answering the same after it", async () => {
    const browser = new Browser(t.app);
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await askForLink(browser, "flood@example.org"));
    assert.equal(smtp.received.length, 3);
    assert.ok(answers.every((a) => a.statusCode === 200 && /a sign-in link is on its way/.test(a.body)));
  });

  for (const [label, address] of [
    ["an address with a header injection", "dev@example.org\r\nBcc: x@example.org"],
    ["two addresses", "a@example.org, b@example.org"],
    ["no address", ""],
  ] as const) {
    it(`refuses ${label} with a message and sends nothing`, async () => {
      const response = await askForLink(new Browser(t.app), address);
      assert.equal(response.statusCode, 400);
      assert.match(response.body, /Enter an email address such as dev@example.org/);
      assert.equal(smtp.received.length, 0);
      assert.equal(await t.app.db.linkToken.count(), 0);
      assert.equal(await t.app.db.outboxEmail.count(), 0);
    });
  }

  it("refuses a sign-in form without its CSRF token", async () => {
    const response = await t.app.inject({
      method: "POST",
      url: "/sign-in",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: "address=dev%40example.org",
    });
    assert.equal(response.statusCode, 403);
    assert.match(response.body, /This form has expired/);
    assert.equal(await t.app.db.linkToken.count(), 0);
  });

  it("refuses malformed and unknown tokens without a stack trace", async () => {
    for (const token of ["", "short", "A".repeat(22), "../../etc/passwd", "%00"]) {
      const response = await new Browser(t.app).get(`/sign-in/link?token=${encodeURIComponent(token)}`);
      assert.equal(response.statusCode, 400, token);
      assert.match(response.body, /This link is not valid any more/);
      assert.doesNotMatch(response.body, /at .*\.ts:\d+/);
    }
  });

  it("signs out and kills the session on the server", async () => {
    const browser = new Browser(t.app);
    await askForLink(browser, "out@example.org");
    const token = new URL(findLink(smtp.received[0]!, "/sign-in/link?token=")).searchParams.get("token") ?? "";
    await browser.postForm("/sign-in/link", { token }, "/sign-in");
    const sessionCookie = browser.cookie("ks_session");
    assert.ok(sessionCookie);
    const out = await browser.postForm("/sign-out", {}, "/requests");
    assert.equal(out.statusCode, 303);
    assert.equal(await t.app.db.session.count({ where: { applicant: { email: "out@example.org" } } }), 0);
    // Replaying the old cookie no longer works.
    const replay = new Browser(t.app);
    replay.setCookie("ks_session", sessionCookie);
    const page = await replay.get("/requests");
    assert.equal(page.statusCode, 303);
    assert.equal(page.headers.location, "/sign-in?next=%2Frequests");
  });

  it("gives a new session id at every sign-in", async () => {
    const browser = new Browser(t.app);
    const ids = [];
    for (let i = 0; i < 2; i++) {
      smtp.received.length = 0;
      await browser.postForm("/sign-in", { address: "twice@example.org" }, i === 0 ? "/sign-in" : "/requests");
      await t.app.mail.deliverDue();
      const token = new URL(findLink(smtp.received[0]!, "/sign-in/link?token=")).searchParams.get("token") ?? "";
      await browser.postForm("/sign-in/link", { token }, i === 0 ? "/sign-in" : "/requests");
      ids.push(browser.cookie("ks_session"));
    }
    assert.ok(ids[0] && ids[1] && ids[0] !== ids[1]);
    assert.equal(await t.app.db.session.count({ where: { applicant: { email: "twice@example.org" } } }), 1);
  });

  it("sets the session cookie HttpOnly and SameSite", async () => {
    const browser = new Browser(t.app);
    await askForLink(browser, "cookie@example.org");
    const token = new URL(findLink(smtp.received[0]!, "/sign-in/link?token=")).searchParams.get("token") ?? "";
    const response = await browser.postForm("/sign-in/link", { token }, "/sign-in");
    const cookie = response.cookies.find((c) => c.name === "ks_session");
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, "Lax");
  });
});

describe("sign-in rate limit per client address", () => {
  it("answers 429 with a message past the limit", async () => {
    const t = await createTestApp({ SIGNIN_RATE_PER_IP: "2" });
    try {
      const browser = new Browser(t.app);
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await browser.postForm("/sign-in", { address: `ip${i}@example.org` }, "/sign-in")).statusCode);
      assert.deepEqual(statuses, [200, 200, 429]);
      const last = await browser.postForm("/sign-in", { address: "ip9@example.org" }, "/sign-in");
      assert.match(last.body, /Too many attempts from your network/);
      assert.equal(await t.app.db.linkToken.count(), 2);
    } finally {
      await t.close();
    }
  });
});
