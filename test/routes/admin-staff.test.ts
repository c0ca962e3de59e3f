import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, beforeEach, describe, it } from "node:test";
import { totpCode, totpStep } from "../../src/core/totp.ts";
import { SCRUBBED } from "../../src/repositories/outbox.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { Browser } from "../helpers/http.ts";
import { signInAs } from "../helpers/session.ts";
import { createStaff, signInStaff, type CreatedStaff } from "../helpers/staff.ts";
import { findLink, mailText, TestSmtpServer } from "../helpers/smtp.ts";

const PASSWORD = "amber lantern meadow 7";

function pathOf(link: string): string {
  const url = new URL(link);
  return url.pathname + url.search;
}

describe("staff accounts (admins)", () => {
  let smtp: TestSmtpServer;
  let t: TestApp;
  let admin: CreatedStaff;
  let browser: Browser;

  before(async () => {
    smtp = new TestSmtpServer();
    t = await createTestApp({ SMTP_URL: await smtp.start() });
  });
  after(async () => {
    await t.close();
    await smtp.stop();
  });
  beforeEach(async () => {
    smtp.received.length = 0;
    const db = t.app.db;
    await db.session.deleteMany();
    await db.recoveryCode.deleteMany();
    await db.loginAttempt.deleteMany();
    await db.linkToken.deleteMany();
    await db.outboxEmail.deleteMany();
    await db.auditEvent.deleteMany();
    await db.staff.deleteMany();
    admin = await createStaff(t, { email: "admin@example.org", roles: ["admin"] });
    browser = await signInStaff(t, admin.email);
  });

  async function invite(email: string, roles: string[]) {
    const response = await browser.postForm("/admin/staff/invite", { email, roles }, "/admin/staff");
    await t.app.mail.deliverDue();
    return response;
  }

  async function lastAudit() {
    return t.app.db.auditEvent.findFirstOrThrow({ orderBy: { seq: "desc" } });
  }

  it("invites by email; the invitee sets a password, enrols TOTP and signs in with the role given", async () => {
    const sent = await invite("New.Reviewer@Example.org", ["reviewer", "signing_officer"]);
    assert.equal(sent.statusCode, 303);
    assert.match(String(sent.headers.location), /^\/admin\/staff\?done=invited&invite=[^&]+$/);
    const list = await browser.get(String(sent.headers.location));
    assert.match(list.body, /Invitation sent to new\.reviewer@example\.org\. The link works once and expires /);
    assert.match(list.body, /<td>new.reviewer@example.org<\/td>\s*<td>Reviewer, Signing officer<\/td>/);

    assert.equal(smtp.received.length, 1);
    const mail = smtp.received[0]!;
    assert.deepEqual(mail.to, ["new.reviewer@example.org"]);
    assert.match(mail.raw, /Subject: You are invited to the Keysign staff/);
    assert.match(mailText(mail), /admin@example.org invited you to join the Keysign staff as reviewer and signing officer/);
    const link = findLink(mail, "/admin/invite?token=");
    // The link must not outlive delivery in the outbox.
    const outbox = await t.app.db.outboxEmail.findFirstOrThrow();
    assert.equal(outbox.status, "sent");
    assert.equal(outbox.text, SCRUBBED);

    const invitee = new Browser(t.app);
    const page = await invitee.get(pathOf(link));
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /Account address: <strong>new.reviewer@example.org<\/strong>/);
    assert.doesNotMatch(page.body, /name="email"/);
    const token = new URL(link).searchParams.get("token")!;
    // An address typed into the form is ignored: the invitation decides it.
    const accepted = await invitee.postForm("/admin/invite", { token, email: "other@example.org", password: PASSWORD, passwordAgain: PASSWORD }, pathOf(link));
    assert.equal(accepted.statusCode, 303);
    assert.equal(accepted.headers.location, "/admin/enrol");
    const created = await t.app.db.staff.findUniqueOrThrow({ where: { email: "new.reviewer@example.org" } });
    assert.equal(created.roles, "reviewer,signing_officer");
    assert.equal(await t.app.db.staff.count({ where: { email: "other@example.org" } }), 0);

    const secret = /<code>([A-Z2-7 ]+)<\/code>/.exec((await invitee.get("/admin/enrol")).body)![1]!.replace(/ /g, "");
    const enrolled = await invitee.postForm("/admin/enrol", { code: totpCode(secret, totpStep(t.clock.now)) }, "/admin/enrol");
    assert.equal(enrolled.statusCode, 200);
    assert.match(enrolled.body, /Your recovery codes/);
    // Signed in as a reviewer: not an admin.
    assert.equal((await invitee.get("/admin/staff")).statusCode, 403);

    t.clock.now = new Date(t.clock.now.getTime() + 60_000);
    const later = await signInStaff(t, "new.reviewer@example.org", PASSWORD);
    assert.equal((await later.get("/admin/staff")).statusCode, 403);

    // The invitation works once.
    const again = await new Browser(t.app).get(pathOf(link));
    assert.equal(again.statusCode, 400);
    assert.match(again.body, /This link is not valid any more/);
    const actions = (await t.app.db.auditEvent.findMany({ orderBy: { seq: "asc" } })).map((e) => e.action);
    assert.deepEqual(actions.slice(1, 4), ["staff.invited", "staff.created", "staff.second_factor_enrolled"]);
  });

  for (const [label, email, roles, status, message] of [
    ["an invalid address", "not-an-address", ["reviewer"], 400, /Enter an email address such as reviewer@example.org/],
    ["a header injection", "x@example.org\r\nBcc: y@example.org", ["reviewer"], 400, /Enter an email address/],
    ["no role", "norole@example.org", [], 400, /Choose at least one role/],
    ["unknown roles only", "bad@example.org", ["root"], 400, /Choose at least one role/],
    ["an address that already has an account", "admin@example.org", ["reviewer"], 409, /A staff account with this address already exists/],
  ] as const) {
    it(`refuses an invitation with ${label} and stores nothing`, async () => {
      const response = await invite(email, [...roles]);
      assert.equal(response.statusCode, status);
      assert.match(response.body, message);
      assert.equal(await t.app.db.linkToken.count(), 0);
      assert.equal(await t.app.db.outboxEmail.count(), 0);
      assert.equal(smtp.received.length, 0);
      assert.equal(await t.app.db.auditEvent.count({ where: { action: "staff.invited" } }), 0);
    });
  }

  it("replaces an earlier invitation to the same address, revokes one, and expires them after 72 hours", async () => {
    await invite("twice@example.org", ["reviewer"]);
    await invite("twice@example.org", ["admin"]);
    const [first, second] = smtp.received.map((mail) => findLink(mail, "/admin/invite?token="));
    assert.equal((await new Browser(t.app).get(pathOf(first!))).statusCode, 400);
    assert.match((await new Browser(t.app).get(pathOf(second!))).body, /as <strong>Admin<\/strong>/);

    const invite2 = await t.app.db.linkToken.findFirstOrThrow({ where: { purpose: "staff-invite", expiresAt: { gt: t.clock.now } } });
    assert.equal(invite2.expiresAt.getTime(), t.clock.now.getTime() + 72 * 3_600_000);
    const revoked = await browser.postForm(`/admin/staff/invites/${invite2.id}/revoke`, {}, "/admin/staff");
    assert.equal(revoked.statusCode, 303);
    assert.equal((await new Browser(t.app).get(pathOf(second!))).statusCode, 400);
    assert.equal((await lastAudit()).action, "staff.invite_revoked");

    smtp.received.length = 0;
    await invite("late@example.org", ["reviewer"]);
    const late = findLink(smtp.received[0]!, "/admin/invite?token=");
    const start = t.clock.now;
    t.clock.now = new Date(start.getTime() + 72 * 3_600_000 + 1);
    try {
      assert.equal((await new Browser(t.app).get(pathOf(late))).statusCode, 400);
    } finally {
      t.clock.now = start;
    }
  });

  it("changes roles with effect on the member's next request, and audits from and to", async () => {
    const member = await createStaff(t, { email: "member@example.org", roles: ["reviewer"] });
    const theirs = await signInStaff(t, member.email);
    assert.equal((await theirs.get("/admin/staff")).statusCode, 403);

    const saved = await browser.postForm(`/admin/staff/${member.id}/roles`, { roles: ["admin", "reviewer"] }, `/admin/staff/${member.id}`);
    assert.equal(saved.statusCode, 303);
    assert.equal(saved.headers.location, `/admin/staff/${member.id}?done=roles`);
    assert.equal((await theirs.get("/admin/staff")).statusCode, 200);
    const event = await lastAudit();
    assert.equal(event.action, "staff.roles_changed");
    assert.equal(event.actorType, "staff");
    assert.equal(event.actorId, admin.id);
    assert.equal(event.ip, "127.0.0.1");
    assert.deepEqual(JSON.parse(event.data), { staffId: member.id, email: member.email, from: ["reviewer"], to: ["admin", "reviewer"] });
  });

  it("never removes the last enabled admin, and says why", async () => {
    const before = await t.app.db.auditEvent.count();
    const response = await browser.postForm(`/admin/staff/${admin.id}/roles`, { roles: ["reviewer"] }, `/admin/staff/${admin.id}`);
    assert.equal(response.statusCode, 409);
    assert.match(response.body, /This would leave no enabled admin/);
    assert.equal((await t.app.db.staff.findUniqueOrThrow({ where: { id: admin.id } })).roles, "admin");
    assert.equal(await t.app.db.auditEvent.count(), before);

    // With a second enabled admin, an admin may step down.
    await createStaff(t, { email: "second@example.org", roles: ["admin"] });
    assert.equal((await browser.postForm(`/admin/staff/${admin.id}/roles`, { roles: ["reviewer"] }, `/admin/staff/${admin.id}`)).statusCode, 303);
    assert.equal((await browser.get("/admin/staff")).statusCode, 403);
  });

  it("refuses to change roles to none", async () => {
    const member = await createStaff(t, { email: "member@example.org", roles: ["reviewer"] });
    const response = await browser.postForm(`/admin/staff/${member.id}/roles`, {}, `/admin/staff/${member.id}`);
    assert.equal(response.statusCode, 400);
    assert.match(response.body, /Choose at least one role/);
    assert.equal((await t.app.db.staff.findUniqueOrThrow({ where: { id: member.id } })).roles, "reviewer");
  });

  it("disabling ends the member's sessions at once; they cannot sign in until re-enabled", async () => {
    const member = await createStaff(t, { email: "leaver@example.org", roles: ["admin"] });
    const theirs = await signInStaff(t, member.email);
    assert.equal((await theirs.get("/admin/staff")).statusCode, 200);

    const disabled = await browser.postForm(`/admin/staff/${member.id}/disable`, {}, `/admin/staff/${member.id}`);
    assert.equal(disabled.statusCode, 303);
    assert.equal(await t.app.db.session.count({ where: { staffId: member.id } }), 0);
    const kicked = await theirs.get("/admin/staff");
    assert.equal(kicked.statusCode, 303);
    assert.equal(kicked.headers.location, "/admin/login");
    assert.equal((await lastAudit()).action, "staff.disabled");
    assert.match((await browser.get(`/admin/staff/${member.id}?done=disabled`)).body, /Account disabled; its sessions have ended\./);

    const refused = await new Browser(t.app).postForm("/admin/login", { email: member.email, password: member.password }, "/admin/login");
    assert.equal(refused.statusCode, 401);
    assert.match(refused.body, /Email or password is wrong/);

    assert.equal((await browser.postForm(`/admin/staff/${member.id}/enable`, {}, `/admin/staff/${member.id}`)).statusCode, 303);
    assert.equal((await lastAudit()).action, "staff.enabled");
    const back = await signInStaff(t, member.email);
    assert.equal((await back.get("/admin/staff")).statusCode, 200);
  });

  it("does not let an admin disable or reset themselves", async () => {
    for (const action of ["disable", "reset-second-factor"]) {
      const response = await browser.postForm(`/admin/staff/${admin.id}/${action}`, {}, `/admin/staff/${admin.id}`);
      assert.equal(response.statusCode, 409, action);
      assert.match(response.body, /Ask another admin/);
    }
    const me = await t.app.db.staff.findUniqueOrThrow({ where: { id: admin.id } });
    assert.equal(me.disabledAt, null);
    assert.ok(me.totpSecret);
    assert.equal((await browser.get("/admin/staff")).statusCode, 200);
  });

  it("resets a member's second factor: sessions end, and the next sign-in enrols anew", async () => {
    const member = await createStaff(t, { email: "lostphone@example.org", roles: ["reviewer"] });
    await t.app.db.recoveryCode.create({ data: { id: randomUUID(), staffId: member.id, codeHash: "x".repeat(64) } });
    const theirs = await signInStaff(t, member.email);

    const reset = await browser.postForm(`/admin/staff/${member.id}/reset-second-factor`, {}, `/admin/staff/${member.id}`);
    assert.equal(reset.statusCode, 303);
    const row = await t.app.db.staff.findUniqueOrThrow({ where: { id: member.id } });
    assert.equal(row.totpSecret, null);
    assert.equal(row.totpEnrolledAt, null);
    assert.equal(await t.app.db.recoveryCode.count({ where: { staffId: member.id } }), 0);
    assert.equal(await t.app.db.session.count({ where: { staffId: member.id } }), 0);
    assert.equal((await theirs.get("/admin/staff")).headers.location, "/admin/login");
    assert.equal((await lastAudit()).action, "staff.second_factor_reset");

    const next = await new Browser(t.app).postForm("/admin/login", { email: member.email, password: member.password }, "/admin/login");
    assert.equal(next.statusCode, 303);
    assert.equal(next.headers.location, "/admin/enrol");
  });

  it("keeps the staff pages to admins", async () => {
    const reviewer = await createStaff(t, { email: "rev@example.org", roles: ["reviewer", "signing_officer"] });
    const reviewerBrowser = await signInStaff(t, reviewer.email);
    const applicant = await signInAs(t, "dev@example.org");
    const anonymous = new Browser(t.app);
    for (const url of ["/admin/staff", `/admin/staff/${admin.id}`]) {
      assert.equal((await reviewerBrowser.get(url)).statusCode, 403, url);
      for (const outsider of [applicant, anonymous]) {
        const response = await outsider.get(url);
        assert.equal(response.statusCode, 303, url);
        assert.equal(response.headers.location, "/admin/login");
      }
    }
    for (const action of ["disable", "reset-second-factor", "enable", "roles"]) {
      // A valid CSRF token: only the role is missing.
      const response = await reviewerBrowser.postForm(`/admin/staff/${admin.id}/${action}`, { roles: "reviewer" }, "/sign-in");
      assert.equal(response.statusCode, 403, action);
      assert.match(response.body, /This page needs the Admin role/);
    }
    const me = await t.app.db.staff.findUniqueOrThrow({ where: { id: admin.id } });
    assert.equal(me.disabledAt, null);
    assert.equal(me.roles, "admin");
  });

  it("refuses staff forms without their CSRF token and changes nothing", async () => {
    const member = await createStaff(t, { email: "member@example.org", roles: ["reviewer"] });
    const cookie = `ks_session=${browser.cookie("ks_session")}; ks_csrf=${browser.cookie("ks_csrf")}`;
    for (const [url, payload] of [
      ["/admin/staff/invite", "email=x%40example.org&roles=reviewer"],
      [`/admin/staff/${member.id}/roles`, "roles=admin"],
      [`/admin/staff/${member.id}/disable`, ""],
      [`/admin/staff/${member.id}/reset-second-factor`, ""],
    ] as const) {
      const response = await t.app.inject({ method: "POST", url, headers: { "content-type": "application/x-www-form-urlencoded", cookie }, payload });
      assert.equal(response.statusCode, 403, url);
    }
    const row = await t.app.db.staff.findUniqueOrThrow({ where: { id: member.id } });
    assert.equal(row.roles, "reviewer");
    assert.equal(row.disabledAt, null);
    assert.ok(row.totpSecret);
    assert.equal(await t.app.db.linkToken.count(), 0);
  });

  it("answers 404 for an unknown staff id", async () => {
    const response = await browser.get("/admin/staff/00000000-0000-4000-8000-000000000000");
    assert.equal(response.statusCode, 404);
    const action = await browser.postForm("/admin/staff/00000000-0000-4000-8000-000000000000/disable", {}, "/admin/staff");
    assert.equal(action.statusCode, 404);
  });
});
