import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { Browser } from "../helpers/http.ts";
import { createStaff, signInStaff } from "../helpers/staff.ts";

const CONTACT = "security@example.org";
const MAILTO = `<a href="mailto:${CONTACT}">${CONTACT}</a>`;
/** The settings form as the page sends it, with the contact address field. */
const FORM = { approvalsRequired: "2", certificationValidityDays: "730", openRequestsPerApplicant: "3", policyUrl: "", organisationName: "", certificationDomain: "" };

function footerOf(html: string): string {
  return /<footer class="site-footer">[\s\S]*?<\/footer>/.exec(html)?.[0] ?? "";
}

describe("the contact address for security questions", () => {
  let t: TestApp;
  let admin: Browser;

  before(async () => {
    t = await createTestApp({ MAIL_FROM: "Keysign <keysign@example.net>" }, undefined, {
      beforeReady: (app) => {
        app.get("/test-only/boom", async () => {
          throw new Error("an unexpected failure");
        });
      },
    });
    await createStaff(t, { email: "root@keysign.example", roles: ["admin"] });
    admin = await signInStaff(t, "root@keysign.example");
  });
  after(async () => t.close());

  it("falls back to the sender address of the portal's emails while the setting is empty", async () => {
    const landing = await new Browser(t.app).get("/");
    assert.ok(footerOf(landing.body).includes('<a href="mailto:keysign@example.net">keysign@example.net</a>'));
    const settings = await admin.get("/admin/settings");
    assert.match(settings.body, /Left empty, pages and emails show the sender address of the portal's emails, <code>keysign@example.net<\/code>/);
  });

  it("refuses an address that is not one, with the message by the field and in the summary, and stores nothing", async () => {
    const settingsBefore = await t.app.db.setting.findMany({ orderBy: { key: "asc" } });
    const eventsBefore = await t.app.db.auditEvent.count();
    const response = await admin.postForm("/admin/settings", { ...FORM, contactAddress: "security at example.org" }, "/admin/settings");
    assert.equal(response.statusCode, 400);
    const message = "Enter the contact address as an email address, like security@example.org, or leave it empty.";
    assert.ok(response.body.includes(`<a href="#contactAddress-error">${message}</a>`), "the summary links to the field's message");
    assert.ok(response.body.includes(`<p class="field-error" id="contactAddress-error"><span class="visually-hidden">Error:</span> ${message}</p>`));
    assert.match(response.body, /<input id="contactAddress" name="contactAddress"[^>]* value="security at example.org"[^>]* aria-invalid="true" aria-describedby="contactAddress-hint contactAddress-error">/);
    assert.deepEqual(await t.app.db.setting.findMany({ orderBy: { key: "asc" } }), settingsBefore);
    assert.equal(await t.app.db.auditEvent.count(), eventsBefore);
  });

  it("saves the address lower-cased, with an audit event of the old and new value", async () => {
    const response = await admin.postForm("/admin/settings", { ...FORM, contactAddress: " Security@Example.org " }, "/admin/settings");
    assert.equal(response.statusCode, 303);
    const event = await t.app.db.auditEvent.findFirstOrThrow({ where: { action: "settings.update" }, orderBy: { seq: "desc" } });
    assert.deepEqual(JSON.parse(event.data).contactAddress, { from: "", to: CONTACT });
    const page = await admin.get("/admin/settings?saved=1");
    assert.match(page.body, new RegExp(`name="contactAddress"[^>]* value="${CONTACT}"`));
  });

  it("keeps the stored address when a form without the field is sent", async () => {
    assert.equal((await admin.postForm("/admin/settings", FORM, "/admin/settings")).statusCode, 303);
    assert.equal((await t.app.settings.read()).contactAddress, CONTACT);
  });

  it("shows it on the start page and at the foot of every page", async () => {
    const visitor = new Browser(t.app);
    const landing = await visitor.get("/");
    assert.match(landing.body, new RegExp(`If the key is lost or exposed, write to ${MAILTO.replace(/[.]/g, "\\.")} at once`));
    for (const url of ["/", "/keys", "/sign-in", "/check-module"]) {
      assert.ok(footerOf((await visitor.get(url)).body).includes(MAILTO), `${url} names the contact address`);
    }
    assert.ok(footerOf((await admin.get("/admin")).body).includes(MAILTO), "staff pages too");
  });

  it("shows it on the error pages", async () => {
    const missing = await new Browser(t.app).get("/no-such-page");
    assert.equal(missing.statusCode, 404);
    assert.ok(footerOf(missing.body).includes(MAILTO));
    const broken = await new Browser(t.app).get("/test-only/boom");
    assert.equal(broken.statusCode, 500);
    assert.ok(broken.body.includes(`send the reference below to ${MAILTO}.`));
  });

  it("names it in the emails sent from then on", async () => {
    const visitor = new Browser(t.app);
    assert.equal((await visitor.postForm("/sign-in", { address: "dev@example.org" }, "/sign-in")).statusCode, 200);
    const mail = await t.app.db.outboxEmail.findFirstOrThrow({ where: { recipient: "dev@example.org" }, orderBy: { createdAt: "desc" } });
    assert.ok(mail.html.includes(`Write to <a href="mailto:${CONTACT}" style="color: #1f5fae;">${CONTACT}</a>.`));
    assert.match(mail.text, /Security questions, or a key lost or exposed\? Write to security@example\.org\.\n$/);
  });
});

describe("the contact address without a usable sender address", () => {
  let t: TestApp;
  before(async () => {
    // The default sender, keysign@localhost, is no address anyone outside can write to.
    t = await createTestApp();
  });
  after(async () => t.close());

  it("names no address rather than one nobody can write to", async () => {
    const landing = await new Browser(t.app).get("/");
    assert.doesNotMatch(landing.body, /mailto:/);
    assert.match(landing.body, /If the key is lost or exposed, tell the Keysign staff at once/);
  });
});
