import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { totpCode, totpStep } from "../../src/core/totp.ts";
import { hashToken } from "../../src/core/tokens.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { Browser } from "../helpers/http.ts";
import { createStaff, currentTotpCode, signInStaff } from "../helpers/staff.ts";

const GOOD_PASSWORD = "violet kettle harbour 42";

function pathOf(link: string): string {
  const url = new URL(link);
  return url.pathname + url.search;
}

function tokenOf(link: string): string {
  return new URL(link).searchParams.get("token") ?? "";
}

/** The secret as the enrolment page shows it (grouped by four). */
function secretOn(html: string): string {
  const match = /<p class="secret"><code>([A-Z2-7 ]+)<\/code><\/p>/.exec(html);
  assert.ok(match?.[1], "the enrolment page shows the secret as text");
  return match[1].replace(/ /g, "");
}

function recoveryCodesOn(html: string): string[] {
  const block = /<div class="command" data-command>\s*<pre><code>([a-z2-7\n-]+)<\/code><\/pre>/.exec(html)?.[1] ?? "";
  return block.split("\n").filter((line) => line !== "");
}

const withoutCsrf = (html: string) => html.replace(/name="_csrf" value="[^"]+"/g, "");

async function resetState(t: TestApp): Promise<void> {
  await t.app.db.session.deleteMany();
  await t.app.db.recoveryCode.deleteMany();
  await t.app.db.staff.deleteMany();
  await t.app.db.loginAttempt.deleteMany();
  await t.app.db.linkToken.deleteMany();
}

describe("first admin: setup link, password, TOTP enrolment, recovery codes", () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => t.close());
  beforeEach(async () => resetState(t));

  it("creates the admin, requires enrolment before anything else, and shows recovery codes once", async () => {
    const link = (await t.app.staffAuth.firstStartSetupLink())!;
    assert.ok(link.startsWith(`${t.config.PUBLIC_URL}/admin/setup?token=`));
    const browser = new Browser(t.app);
    const page = await browser.get(pathOf(link));
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /This link creates a Keysign staff account as <strong>Admin<\/strong>/);

    const created = await browser.postForm("/admin/setup", { token: tokenOf(link), email: "Admin@Example.org", password: GOOD_PASSWORD, passwordAgain: GOOD_PASSWORD }, pathOf(link));
    assert.equal(created.statusCode, 303);
    assert.equal(created.headers.location, "/admin/enrol");
    const staff = await t.app.db.staff.findUniqueOrThrow({ where: { email: "admin@example.org" } });
    assert.equal(staff.roles, "admin");
    assert.match(staff.passwordHash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    const passwordCookie = browser.cookie("ks_session");

    // Half signed in: every other staff page sends the person back to the second factor.
    for (const url of ["/admin/staff", "/admin"]) {
      const blocked = await browser.get(url);
      assert.equal(blocked.statusCode, 303, url);
      assert.equal(blocked.headers.location, "/admin/login/totp");
    }
    assert.equal((await browser.get("/admin/login/totp")).headers.location, "/admin/enrol");

    const enrol = await browser.get("/admin/enrol");
    assert.equal(enrol.statusCode, 200);
    assert.equal(enrol.headers["cache-control"], "no-store");
    // Handlebars writes "=" padding as &#x3D;, which the browser decodes in the attribute.
    assert.match(enrol.body, /<img class="qr" src="data:image\/svg\+xml;base64,[A-Za-z0-9+/]+(&#x3D;)*"/);
    const secret = secretOn(enrol.body);
    assert.equal(secret.length, 32);
    // Reloading shows the same secret until it is confirmed.
    assert.equal(secretOn((await browser.get("/admin/enrol")).body), secret);

    const wrong = await browser.postForm("/admin/enrol", { code: totpCode(secret, totpStep(t.clock.now) + 5) }, "/admin/enrol");
    assert.equal(wrong.statusCode, 401);
    assert.match(wrong.body, /That code does not match/);
    assert.equal((await t.app.db.staff.findUniqueOrThrow({ where: { id: staff.id } })).totpEnrolledAt, null);
    assert.equal(await t.app.db.recoveryCode.count(), 0);

    const done = await browser.postForm("/admin/enrol", { code: totpCode(secret, totpStep(t.clock.now)) }, "/admin/enrol");
    assert.equal(done.statusCode, 200);
    assert.equal(done.headers["cache-control"], "no-store");
    const codes = recoveryCodesOn(done.body);
    assert.equal(codes.length, 10);
    assert.equal(new Set(codes).size, 10);
    for (const code of codes) assert.match(code, /^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/);
    // Copied at once (the command block's Copy button) or downloaded as one text file.
    assert.match(done.body, /Copy<span class="visually-hidden"> the recovery codes<\/span>/);
    const download = /<a href="data:text\/plain;charset&#x3D;utf-8,([^"]+)" download="keysign-recovery-codes.txt">/.exec(done.body)?.[1] ?? "";
    assert.deepEqual(decodeURIComponent(download).split("\n").filter((line) => /^[a-z2-7]{4}-/.test(line)), codes);
    const stored = await t.app.db.recoveryCode.findMany({ where: { staffId: staff.id } });
    assert.equal(stored.length, 10);
    assert.ok(stored.every((row) => !codes.some((code) => row.codeHash.includes(code) || row.codeHash.includes(code.replace(/-/g, "")))));

    // A new session token once both factors are done; the password-stage one is gone.
    assert.notEqual(browser.cookie("ks_session"), passwordCookie);
    assert.equal(await t.app.db.session.count({ where: { staffId: staff.id } }), 1);
    assert.equal((await browser.get("/admin/staff")).statusCode, 200);
    // The codes are shown once: enrolment is over, the page is not reachable again.
    assert.equal((await browser.get("/admin/enrol")).headers.location, "/admin");

    const actions = (await t.app.db.auditEvent.findMany({ orderBy: { seq: "asc" } })).map((e) => e.action);
    assert.deepEqual(actions.slice(-3), ["staff.setup_link_created", "staff.created", "staff.second_factor_enrolled"]);
  });

  it("refuses weak passwords with a message and stores nothing", async () => {
    const link = (await t.app.staffAuth.firstStartSetupLink())!;
    const cases: Array<[string, string, string, RegExp]> = [
      ["admin@example.org", "short pw", "short pw", /at least 12 characters/],
      ["admin@example.org", "password1234", "password1234", /one of the first that attackers try/],
      ["admin@example.org", "admin@example.org", "admin@example.org", /cannot be your email address/],
      ["admin@example.org", GOOD_PASSWORD, `${GOOD_PASSWORD}x`, /The two passwords differ/],
      ["not an address", GOOD_PASSWORD, GOOD_PASSWORD, /Enter an email address/],
    ];
    for (const [email, password, passwordAgain, message] of cases) {
      const browser = new Browser(t.app);
      const response = await browser.postForm("/admin/setup", { token: tokenOf(link), email, password, passwordAgain }, pathOf(link));
      assert.equal(response.statusCode, 400, password);
      assert.match(response.body, message);
      assert.match(response.body, /nothing was stored/);
      assert.equal(browser.cookie("ks_session"), undefined);
    }
    assert.equal(await t.app.db.staff.count(), 0);
    assert.equal(await t.app.db.linkToken.count({ where: { usedAt: { not: null } } }), 0);
  });

  it("uses a setup link once", async () => {
    const link = (await t.app.staffAuth.firstStartSetupLink())!;
    const form = { token: tokenOf(link), email: "admin@example.org", password: GOOD_PASSWORD, passwordAgain: GOOD_PASSWORD };
    assert.equal((await new Browser(t.app).postForm("/admin/setup", form, pathOf(link))).statusCode, 303);
    const again = await new Browser(t.app).postForm("/admin/setup", { ...form, email: "second@example.org" }, "/admin/login");
    assert.equal(again.statusCode, 400);
    assert.match(again.body, /This link is not valid any more/);
    assert.equal((await new Browser(t.app).get(pathOf(link))).statusCode, 400);
    assert.equal(await t.app.db.staff.count(), 1);
  });

  it("stores only the hash of the setup token and expires it after 24 hours", async () => {
    const link = (await t.app.staffAuth.firstStartSetupLink())!;
    const row = await t.app.db.linkToken.findFirstOrThrow({ where: { purpose: "staff-setup" } });
    assert.equal(row.tokenHash, hashToken(tokenOf(link)));
    assert.ok(!JSON.stringify(row).includes(tokenOf(link)));
    const start = t.clock.now;
    t.clock.now = new Date(start.getTime() + 24 * 3_600_000 + 1);
    try {
      const late = await new Browser(t.app).postForm(
        "/admin/setup",
        { token: tokenOf(link), email: "admin@example.org", password: GOOD_PASSWORD, passwordAgain: GOOD_PASSWORD },
        "/admin/login",
      );
      assert.equal(late.statusCode, 400);
      assert.equal(await t.app.db.staff.count(), 0);
    } finally {
      t.clock.now = start;
    }
  });

  it("prints a first-start link only while no enabled admin exists, and only the newest works", async () => {
    const first = (await t.app.staffAuth.firstStartSetupLink())!;
    const second = (await t.app.staffAuth.firstStartSetupLink())!;
    assert.equal((await new Browser(t.app).get(pathOf(first))).statusCode, 400);
    assert.equal((await new Browser(t.app).get(pathOf(second))).statusCode, 200);

    await createStaff(t, { email: "reviewer@example.org", roles: ["reviewer"] });
    assert.ok(await t.app.staffAuth.firstStartSetupLink(), "a reviewer is not an admin");
    const admin = await createStaff(t, { email: "admin@example.org", roles: ["admin"] });
    assert.equal(await t.app.staffAuth.firstStartSetupLink(), null);
    await t.app.db.staff.update({ where: { id: admin.id }, data: { disabledAt: t.clock.now } });
    assert.ok(await t.app.staffAuth.firstStartSetupLink(), "a disabled admin cannot manage anything");
  });

  it("keeps an unused setup link valid after an admin exists (decision: until used or expired)", async () => {
    const link = (await t.app.staffAuth.firstStartSetupLink())!;
    await createStaff(t, { email: "someone@example.org", roles: ["admin"] });
    const response = await new Browser(t.app).postForm(
      "/admin/setup",
      { token: tokenOf(link), email: "second-admin@example.org", password: GOOD_PASSWORD, passwordAgain: GOOD_PASSWORD },
      pathOf(link),
    );
    assert.equal(response.statusCode, 303);
  });

  it("refuses a setup for an address that already has an account, leaving the link usable", async () => {
    await createStaff(t, { email: "taken@example.org", roles: ["reviewer"] });
    const link = (await t.app.staffAuth.firstStartSetupLink())!;
    const form = { token: tokenOf(link), email: "taken@example.org", password: GOOD_PASSWORD, passwordAgain: GOOD_PASSWORD };
    const response = await new Browser(t.app).postForm("/admin/setup", form, pathOf(link));
    assert.equal(response.statusCode, 409);
    assert.match(response.body, /A staff account with this address already exists/);
    assert.equal(await t.app.db.staff.count(), 1);
    assert.equal((await new Browser(t.app).get(pathOf(link))).statusCode, 200);
  });
});

describe("staff sign-in", () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => t.close());
  beforeEach(async () => {
    await resetState(t);
    t.clock.now = new Date("2026-11-24T12:00:00Z");
  });

  async function passwordStep(browser: Browser, email: string, password: string) {
    return browser.postForm("/admin/login", { email, password }, "/admin/login");
  }

  it("signs in with password then TOTP, with a new session token at each step", async () => {
    const staff = await createStaff(t, { email: "rev@example.org", roles: ["reviewer"] });
    const browser = new Browser(t.app);
    const first = await passwordStep(browser, "REV@example.org ", staff.password);
    assert.equal(first.statusCode, 303);
    assert.equal(first.headers.location, "/admin/login/totp");
    const pending = browser.cookie("ks_session");
    assert.ok(pending);
    assert.equal((await t.app.db.session.findFirstOrThrow({ where: { staffId: staff.id } })).stage, "password");

    const page = await browser.get("/admin/login/totp");
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /Enter the six-digit code/);
    const second = await browser.postForm("/admin/login/totp", { code: totpCode(staff.totpSecret, totpStep(t.clock.now)) }, "/admin/login/totp");
    assert.equal(second.statusCode, 303);
    assert.equal(second.headers.location, "/admin");
    const full = browser.cookie("ks_session");
    assert.ok(full && full !== pending);
    const sessions = await t.app.db.session.findMany({ where: { staffId: staff.id } });
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0]?.stage, "full");
    assert.equal(sessions[0]?.expiresAt.getTime(), t.clock.now.getTime() + 8 * 3_600_000);
    const cookie = second.cookies.find((c) => c.name === "ks_session");
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, "Lax");

    // The old password-stage token is dead.
    const replay = new Browser(t.app);
    replay.setCookie("ks_session", pending);
    assert.equal((await replay.get("/admin/login/totp")).headers.location, "/admin/login");
    const event = await t.app.db.auditEvent.findFirstOrThrow({ where: { action: "staff.signed_in" } });
    assert.equal(event.actorType, "staff");
    assert.equal(event.actorId, staff.id);
    assert.equal(event.ip, "127.0.0.1");
  });

  it("answers the same for an unknown address, a wrong password and a disabled account", async () => {
    const staff = await createStaff(t, { email: "known@example.org", roles: ["admin"] });
    await createStaff(t, { email: "off@example.org", roles: ["admin"], disabled: true });
    const answers = [
      await passwordStep(new Browser(t.app), "known@example.org", "wrong password here"),
      await passwordStep(new Browser(t.app), "nobody@example.org", "wrong password here"),
      await passwordStep(new Browser(t.app), "off@example.org", staff.password),
    ];
    for (const answer of answers) {
      assert.equal(answer.statusCode, 401);
      assert.match(answer.body, /Email or password is wrong\./);
      assert.equal(answer.cookies.find((c) => c.name === "ks_session"), undefined);
    }
    // Only the typed address differs between the pages.
    const normalised = answers.map((a) => withoutCsrf(a.body).replace(/value="[a-z]+@example\.org"/, 'value=""'));
    assert.equal(normalised[0], normalised[1]);
    assert.equal(normalised[1], normalised[2]);
    assert.equal(await t.app.db.session.count(), 0);
  });

  it("refuses a wrong code and a code used before (replay), keeping the session half signed in", async () => {
    const staff = await createStaff(t, { email: "replay@example.org", roles: ["reviewer"] });
    const code = totpCode(staff.totpSecret, totpStep(t.clock.now));
    const first = new Browser(t.app);
    await passwordStep(first, staff.email, staff.password);
    const wrong = await first.postForm("/admin/login/totp", { code: totpCode(staff.totpSecret, totpStep(t.clock.now) + 3) }, "/admin/login/totp");
    assert.equal(wrong.statusCode, 401);
    assert.match(wrong.body, /That code is not right, or it was already used/);
    assert.equal((await first.postForm("/admin/login/totp", { code }, "/admin/login/totp")).statusCode, 303);

    const second = new Browser(t.app);
    await passwordStep(second, staff.email, staff.password);
    const replayed = await second.postForm("/admin/login/totp", { code }, "/admin/login/totp");
    assert.equal(replayed.statusCode, 401);
    assert.match(replayed.body, /already used/);
    assert.equal((await second.get("/admin/staff")).headers.location, "/admin/login/totp");
    // The next time step's code is fresh.
    const next = await second.postForm("/admin/login/totp", { code: totpCode(staff.totpSecret, totpStep(t.clock.now) + 1) }, "/admin/login/totp");
    assert.equal(next.statusCode, 303);
  });

  it("accepts each recovery code once in place of a TOTP code", async () => {
    const link = (await t.app.staffAuth.firstStartSetupLink())!;
    const browser = new Browser(t.app);
    await browser.postForm("/admin/setup", { token: tokenOf(link), email: "lost@example.org", password: GOOD_PASSWORD, passwordAgain: GOOD_PASSWORD }, pathOf(link));
    const secret = secretOn((await browser.get("/admin/enrol")).body);
    const codes = recoveryCodesOn((await browser.postForm("/admin/enrol", { code: totpCode(secret, totpStep(t.clock.now)) }, "/admin/enrol")).body);
    const code = codes[3]!;

    const useCode = async (typed: string) => {
      const again = new Browser(t.app);
      await passwordStep(again, "lost@example.org", GOOD_PASSWORD);
      return again.postForm("/admin/login/totp", { code: typed }, "/admin/login/totp");
    };
    // Typed in capitals and without dashes, as people do.
    const used = await useCode(code.replace(/-/g, "").toUpperCase());
    assert.equal(used.statusCode, 303);
    assert.equal(used.headers.location, "/admin");
    assert.equal(await t.app.db.recoveryCode.count({ where: { usedAt: { not: null } } }), 1);
    const event = await t.app.db.auditEvent.findFirstOrThrow({ where: { action: "staff.signed_in" }, orderBy: { seq: "desc" } });
    assert.deepEqual(JSON.parse(event.data), { method: "recovery_code" });

    const twice = await useCode(code);
    assert.equal(twice.statusCode, 401);
    assert.match(twice.body, /already used/);
    assert.equal((await useCode("aaaa-bbbb-cccc-dddd")).statusCode, 401);
    assert.equal((await useCode(codes[4]!)).statusCode, 303);
  });

  it("throttles an account after 5 failures, then lets the owner in once the wait is over", async () => {
    const staff = await createStaff(t, { email: "victim@example.org", roles: ["admin"] });
    for (let i = 0; i < 5; i++) assert.equal((await passwordStep(new Browser(t.app), staff.email, `guess number ${i}!`)).statusCode, 401);

    // Even the right password waits; attempts while waiting are not counted.
    for (let i = 0; i < 10; i++) {
      const throttled = await passwordStep(new Browser(t.app), staff.email, staff.password);
      assert.equal(throttled.statusCode, 429);
      assert.match(throttled.body, /Too many failed sign-ins for this account or from your network\. Wait 30 seconds, then try again\./);
      assert.equal(throttled.headers["retry-after"], "30");
    }
    assert.equal(await t.app.db.loginAttempt.count({ where: { subject: "account:victim@example.org" } }), 5);
    assert.equal(await t.app.db.session.count(), 0);

    t.clock.now = new Date(t.clock.now.getTime() + 31_000);
    // One more failure doubles the wait.
    assert.equal((await passwordStep(new Browser(t.app), staff.email, "guess number 6!")).statusCode, 401);
    const longer = await passwordStep(new Browser(t.app), staff.email, staff.password);
    assert.equal(longer.statusCode, 429);
    assert.match(longer.body, /Wait 1 minute,/);

    t.clock.now = new Date(t.clock.now.getTime() + 61_000);
    const browser = await signInStaff(t, staff.email);
    assert.equal((await browser.get("/admin/staff")).statusCode, 200);
    // A full sign-in clears the account's count.
    assert.equal((await passwordStep(new Browser(t.app), staff.email, "one more typo!")).statusCode, 401);
  });

  it("doubles the wait from 30 seconds up to 15 minutes: never a permanent lockout", async () => {
    const staff = await createStaff(t, { email: "capped@example.org", roles: ["reviewer"] });
    const waits: number[] = [];
    for (let i = 0; i < 11; i++) {
      assert.equal((await passwordStep(new Browser(t.app), staff.email, `guess number ${i}!`)).statusCode, 401);
      // The owner tries right after each guess, and waits as told when refused.
      const owner = await passwordStep(new Browser(t.app), staff.email, staff.password);
      if (owner.statusCode === 303) continue;
      assert.equal(owner.statusCode, 429);
      const seconds = Number(owner.headers["retry-after"]);
      waits.push(seconds);
      t.clock.now = new Date(t.clock.now.getTime() + seconds * 1000);
    }
    assert.deepEqual(waits, [30, 60, 120, 240, 480, 900, 900]);
    assert.equal((await passwordStep(new Browser(t.app), staff.email, staff.password)).statusCode, 303);
  });

  it("forgets failed attempts after a day", async () => {
    await passwordStep(new Browser(t.app), "old@example.org", "an old mistake!");
    t.clock.now = new Date(t.clock.now.getTime() + 24 * 3_600_000 + 1000);
    await passwordStep(new Browser(t.app), "new@example.org", "a new mistake!");
    const subjects = (await t.app.db.loginAttempt.findMany()).map((row) => row.subject).sort();
    assert.deepEqual(subjects, ["account:new@example.org", "ip:127.0.0.1"]);
  });

  it("throttles an unknown address exactly like a known one", async () => {
    for (let i = 0; i < 5; i++) await passwordStep(new Browser(t.app), "ghost@example.org", `guess number ${i}!`);
    const throttled = await passwordStep(new Browser(t.app), "ghost@example.org", "guess number 5!");
    assert.equal(throttled.statusCode, 429);
    assert.match(throttled.body, /Wait 30 seconds/);
  });

  it("throttles a client address after 20 failures across accounts", async () => {
    const staff = await createStaff(t, { email: "office@example.org", roles: ["reviewer"] });
    for (let i = 0; i < 20; i++) assert.equal((await passwordStep(new Browser(t.app), `user${i}@example.org`, "wrong password!")).statusCode, 401);
    const blocked = await passwordStep(new Browser(t.app), staff.email, staff.password);
    assert.equal(blocked.statusCode, 429);
    t.clock.now = new Date(t.clock.now.getTime() + 31_000);
    assert.equal((await passwordStep(new Browser(t.app), staff.email, staff.password)).statusCode, 303);
  });

  it("counts wrong second-factor codes towards the account's throttle", async () => {
    const staff = await createStaff(t, { email: "code-guess@example.org", roles: ["reviewer"] });
    const browser = new Browser(t.app);
    await passwordStep(browser, staff.email, staff.password);
    for (let i = 0; i < 5; i++) {
      const response = await browser.postForm("/admin/login/totp", { code: String(100000 + i) }, "/admin/login/totp");
      assert.equal(response.statusCode, 401);
    }
    const throttled = await browser.postForm("/admin/login/totp", { code: await currentTotpCode(t, staff.email) }, "/admin/login/totp");
    assert.equal(throttled.statusCode, 429);
    assert.match(throttled.body, /Wait 30 seconds/);
  });

  it("refuses every staff form without its CSRF token (403) and changes nothing", async () => {
    const link = (await t.app.staffAuth.firstStartSetupLink())!;
    const staff = await createStaff(t, { email: "csrf@example.org", roles: ["admin"] });
    const posts: Array<[string, string]> = [
      ["/admin/login", `email=csrf%40example.org&password=${encodeURIComponent(staff.password)}`],
      ["/admin/login/totp", "code=123456"],
      ["/admin/enrol", "code=123456"],
      ["/admin/setup", `token=${tokenOf(link)}&email=x%40example.org&password=violet+kettle+42&passwordAgain=violet+kettle+42`],
      ["/admin/invite", `token=${tokenOf(link)}&password=violet+kettle+42&passwordAgain=violet+kettle+42`],
      ["/admin/logout", ""],
    ];
    for (const [url, payload] of posts) {
      const response = await t.app.inject({ method: "POST", url, headers: { "content-type": "application/x-www-form-urlencoded" }, payload });
      assert.equal(response.statusCode, 403, url);
      assert.match(response.body, /This form has expired or was opened in another browser/);
    }
    assert.equal(await t.app.db.session.count(), 0);
    assert.equal(await t.app.db.loginAttempt.count(), 0);
    assert.equal(await t.app.db.staff.count(), 1);
  });

  it("signs out: the session ends on the server at once", async () => {
    await createStaff(t, { email: "out@example.org", roles: ["admin"] });
    const browser = await signInStaff(t, "out@example.org");
    const cookie = browser.cookie("ks_session")!;
    const out = await browser.postForm("/admin/logout", {}, "/admin/staff");
    assert.equal(out.statusCode, 303);
    assert.equal(out.headers.location, "/admin/login");
    assert.equal(await t.app.db.session.count(), 0);
    const replay = new Browser(t.app);
    replay.setCookie("ks_session", cookie);
    const page = await replay.get("/admin/staff");
    assert.equal(page.statusCode, 303);
    assert.equal(page.headers.location, "/admin/login");
  });

  it("ends a half-finished sign-in after 15 minutes and a full session after 8 hours", async () => {
    const staff = await createStaff(t, { email: "slow@example.org", roles: ["admin"] });
    const start = t.clock.now;
    const half = new Browser(t.app);
    await passwordStep(half, staff.email, staff.password);
    t.clock.now = new Date(start.getTime() + 15 * 60_000 + 1);
    assert.equal((await half.get("/admin/login/totp")).headers.location, "/admin/login");

    const full = await signInStaff(t, staff.email);
    t.clock.now = new Date(t.clock.now.getTime() + 8 * 3_600_000 - 1000);
    assert.equal((await full.get("/admin/staff")).statusCode, 200);
    t.clock.now = new Date(t.clock.now.getTime() + 2000);
    assert.equal((await full.get("/admin/staff")).headers.location, "/admin/login");
  });

  it("sends a signed-in staff member from the login page to the dashboard", async () => {
    await createStaff(t, { email: "again@example.org", roles: ["reviewer"] });
    const browser = await signInStaff(t, "again@example.org");
    const page = await browser.get("/admin/login");
    assert.equal(page.statusCode, 303);
    assert.equal(page.headers.location, "/admin");
  });
});
