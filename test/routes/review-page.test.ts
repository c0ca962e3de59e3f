import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest } from "../helpers/certified.ts";
import { Browser } from "../helpers/http.ts";
import { AGREEMENT_PDF, submitRequest } from "../helpers/requests.ts";
import { createStaff, signInStaff } from "../helpers/staff.ts";

function versionOf(html: string): string {
  return /name="version" value="(\d+)"/.exec(html)?.[1] ?? "";
}

/** Posts a decision from the request page as a person would: with the page's version. */
async function decide(browser: Browser, id: string, action: string, fields: Record<string, string> = {}, version?: string) {
  const page = `/admin/requests/${id}`;
  return browser.postForm(`${page}/${action}`, { version: version ?? versionOf((await browser.get(page)).body), ...fields }, page);
}

/** The page a decision redirected to, as the browser follows it. */
async function follow(browser: Browser, response: { statusCode: number; headers: Record<string, unknown> }) {
  assert.equal(response.statusCode, 303);
  return (await browser.get(String(response.headers.location))).body;
}

describe("pdf.js served by the portal", () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => t.close());

  it("serves the library and its worker as JavaScript cached for a year, and no other file of the package", async () => {
    const page = await t.app.inject({ method: "GET", url: "/" });
    const csp = String(page.headers["content-security-policy"]);
    assert.match(csp, /worker-src 'self'/);
    assert.match(csp, /frame-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-/);
    const { version } = JSON.parse((await import("node:fs")).readFileSync(new URL("../../node_modules/pdfjs-dist/package.json", import.meta.url), "utf8")) as { version: string };
    for (const name of ["pdf.min.mjs", "pdf.worker.min.mjs"]) {
      const response = await t.app.inject({ method: "GET", url: `/vendor/pdfjs/${version}/${name}` });
      assert.equal(response.statusCode, 200, name);
      assert.equal(response.headers["content-type"], "text/javascript; charset=utf-8");
      assert.equal(response.headers["cache-control"], "public, max-age=31536000, immutable");
      assert.equal(response.headers["x-content-type-options"], "nosniff");
      assert.ok(response.body.length > 10_000);
    }
    for (const other of [`/vendor/pdfjs/${version}/pdf.mjs`, `/vendor/pdfjs/${version}/pdf.sandbox.min.mjs`, `/vendor/pdfjs/${version}/../package.json`, "/vendor/pdfjs/pdf.min.mjs", "/vendor/pdfjs/0.0.1/pdf.min.mjs"]) {
      const response = await t.app.inject({ method: "GET", url: other });
      assert.equal(response.statusCode, 404, other);
    }
  });
});

describe("the staff request page", () => {
  let t: TestApp;
  let alice: Browser;
  let bob: Browser;
  let officer: Browser;
  let admin: Browser;

  before(async () => {
    t = await createTestApp();
    await createStaff(t, { email: "alice@keysign.example", roles: ["reviewer"] });
    await createStaff(t, { email: "bob@keysign.example", roles: ["reviewer", "admin"] });
    await createStaff(t, { email: "sam@keysign.example", roles: ["signing_officer"] });
    await createStaff(t, { email: "ada@keysign.example", roles: ["admin"] });
    alice = await signInStaff(t, "alice@keysign.example");
    bob = await signInStaff(t, "bob@keysign.example");
    officer = await signInStaff(t, "sam@keysign.example");
    admin = await signInStaff(t, "ada@keysign.example");
  });
  after(async () => t.close());

  it("keeps the agreement's staff address from applicants, their owner included, and from anonymous visitors", async () => {
    const { id, applicant } = await submitRequest(t, "owner@example.org");
    const agreement = await t.app.db.agreement.findFirstOrThrow({ where: { requestId: id } });
    const url = `/admin/requests/${id}/agreements/${agreement.id}`;
    assert.deepEqual((await alice.get(url)).rawPayload, AGREEMENT_PDF, "staff get the bytes");
    for (const [who, visitor] of [["anonymous", new Browser(t.app)], ["the owner", applicant]] as const) {
      const response = await visitor.get(url);
      assert.equal(response.statusCode, 303, who);
      assert.equal(response.headers.location, "/admin/login", who);
      assert.doesNotMatch(String(response.headers["content-type"] ?? ""), /pdf/, who);
      assert.ok(!response.rawPayload.includes(Buffer.from("%PDF-")), `${who} gets no PDF bytes`);
    }
  });

  it("shows each staff member exactly the decision buttons whose routes accept them", async () => {
    const { id } = await submitRequest(t, "buttons@example.org");
    const actions = ["approve", "request-changes", "reject"];
    for (const [who, browser] of [["reviewer", alice], ["reviewer and admin", bob], ["signing officer", officer], ["admin", admin]] as const) {
      const page = (await browser.get(`/admin/requests/${id}`)).body;
      // A version that cannot match: a route that lets the person in answers 409, never changes anything.
      for (const action of actions) {
        const shown = page.includes(`action="/admin/requests/${id}/${action}"`);
        const refused = (await decide(browser, id, action, { reason: "x" }, "999999")).statusCode === 403;
        assert.equal(shown, !refused, `${who}: the ${action} button is ${shown ? "shown" : "hidden"} and the route ${refused ? "refuses" : "accepts"} them`);
      }
      assert.match(page, new RegExp(`action="/admin/requests/${id}/notes"`), `${who} may add a note`);
      if (who === "signing officer" || who === "admin") assert.match(page, /Only reviewers approve, ask for changes or reject/);
    }
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "submitted");
  });

  it("shows the revocation form on a certified request to reviewers only", async () => {
    const { id } = await submitRequest(t, "certified-buttons@example.org");
    await certifyRequest(t, id);
    await t.app.db.request.update({ where: { id }, data: { state: "certified" } });
    assert.match((await alice.get(`/admin/requests/${id}`)).body, new RegExp(`action="/admin/requests/${id}/revocations"`));
    for (const browser of [officer, admin]) {
      const page = (await browser.get(`/admin/requests/${id}`)).body;
      assert.doesNotMatch(page, /action="[^"]*\/(revocations|approve|reject|request-changes)"/);
    }
  });

  it("puts a refused reason at its box with the error summary, and keeps what was typed", async () => {
    const { id } = await submitRequest(t, "refused@example.org");
    const empty = await decide(alice, id, "reject", { reason: "  " });
    assert.equal(empty.statusCode, 400);
    assert.match(empty.body, /<a href="#reject-error">Give the reason for the rejection/);
    assert.match(empty.body, /<textarea id="reject-reason" name="reason" rows="3" aria-invalid="true" aria-describedby="reject-hint reject-error">/);
    assert.match(empty.body, /<p class="field-error" id="reject-error">/);
    const long = "Too long. ".repeat(450);
    const tooLong = await decide(alice, id, "request-changes", { reason: long });
    assert.equal(tooLong.statusCode, 400);
    assert.match(tooLong.body, /<a href="#request-changes-error">Keep it under 4000 characters/);
    assert.match(tooLong.body, /<textarea id="changes-reason" name="reason" rows="3" aria-invalid="true" aria-describedby="request-changes-error">Too long\. Too long\./);
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "submitted");
  });

  it("shows a refused approval at the top of the decision panel, on the page as it is now", async () => {
    const { id } = await submitRequest(t, "stale-page@example.org");
    const version = versionOf((await alice.get(`/admin/requests/${id}`)).body);
    await decide(bob, id, "approve");
    const stale = await decide(alice, id, "approve", {}, version);
    assert.equal(stale.statusCode, 409);
    assert.match(stale.body, /<a href="#decision-error">This request changed after you loaded the page/);
    assert.match(stale.body, /<p class="field-error" id="decision-error">/);
    assert.match(stale.body, /Approvals of this revision: 1 of 2 required/, "the page shows the approval that came first");
    const twice = await decide(bob, id, "approve");
    assert.equal(twice.statusCode, 409);
    assert.match(twice.body, /<a href="#decision-error">You have already approved this version/);
  });

  it("offers no Approve button on a request the reviewer applied for", async () => {
    await createStaff(t, { email: "applying@keysign.example", roles: ["reviewer"] });
    const { id } = await submitRequest(t, "applying@keysign.example");
    const page = (await (await signInStaff(t, "applying@keysign.example")).get(`/admin/requests/${id}`)).body;
    assert.doesNotMatch(page, new RegExp(`action="/admin/requests/${id}/approve"`));
    assert.match(page, /You applied for this request yourself, so another staff member has to approve it/);
  });
});

describe("after a decision", () => {
  let t: TestApp;
  let alice: Browser;
  let bob: Browser;
  const ids: string[] = [];

  before(async () => {
    t = await createTestApp();
    await createStaff(t, { email: "alice@keysign.example", roles: ["reviewer"] });
    await createStaff(t, { email: "bob@keysign.example", roles: ["reviewer"] });
    alice = await signInStaff(t, "alice@keysign.example");
    bob = await signInStaff(t, "bob@keysign.example");
    // Four requests, a minute apart: the list's order (oldest waiting first) is theirs.
    for (const n of [0, 1, 2, 3]) {
      t.clock.now = new Date(Date.UTC(2026, 10, 24, 12, n));
      ids.push((await submitRequest(t, `next${n}@example.org`)).id);
    }
    t.clock.now = new Date(Date.UTC(2026, 10, 24, 13, 0));
  });
  after(async () => t.close());

  it("says how many approvals are still needed, or that the request is queued, and links to the oldest request that needs this reviewer", async () => {
    const [first, second, third, fourth] = ids as [string, string, string, string];
    assert.match((await alice.get(`/admin/requests/${second}`)).body, /Yours would be approval 1 of 2; the request goes to signing once 2 staff members have approved it\./);
    let page = await follow(alice, await decide(alice, second, "approve"));
    assert.match(page, /<h2>You approved this request<\/h2>/);
    assert.match(page, /1 of 2 approvals: one more reviewer must approve it before it goes to signing\./);
    assert.match(page, /Next: the request from next0@example.org, waiting 1 hour, is the oldest that needs your approval\./);
    assert.match(page, new RegExp(`<a class="button" href="/admin/requests/${first}">Next request</a>`));

    page = await follow(alice, await decide(alice, first, "approve"));
    assert.match(page, new RegExp(`href="/admin/requests/${third}">Next request`), "the requests Alice approved are not next");

    assert.match((await bob.get(`/admin/requests/${second}`)).body, /Yours is the last approval needed: the request then goes to the signing queue/);
    page = await follow(bob, await decide(bob, second, "approve"));
    assert.match(page, /That was the last approval it needed: it is now queued for the next signing batch/);
    // Alice's approval moved the first request last in the list's order (oldest waiting first).
    assert.match(page, new RegExp(`href="/admin/requests/${third}">Next request`), "Bob has not approved the third");

    await decide(alice, third, "approve");
    page = await follow(alice, await decide(alice, fourth, "approve"));
    assert.match(page, /No other request needs your approval now\./);
  });

  it("reports changes asked for and a rejection, and only to the reviewer who made them", async () => {
    t.clock.now = new Date(Date.UTC(2026, 10, 24, 14, 0));
    const { id: changes } = await submitRequest(t, "asked@example.org");
    let page = await follow(alice, await decide(alice, changes, "request-changes", { reason: "Please sign page 2." }));
    assert.match(page, /<h2>You asked for changes<\/h2>/);
    assert.match(page, /The applicant has been emailed your message/);
    assert.doesNotMatch((await bob.get(`/admin/requests/${changes}?decided=changes-requested`)).body, /You asked for changes/, "Bob did not ask");

    const { id: rejected } = await submitRequest(t, "turned-down@example.org");
    page = await follow(bob, await decide(bob, rejected, "reject", { reason: "Not a module developer.", confirm: "yes" }));
    assert.match(page, /<h2>You rejected this request<\/h2>/);
    assert.match(page, /The applicant has been emailed the reason/);
    // An edited address shows no false news.
    assert.doesNotMatch((await alice.get(`/admin/requests/${rejected}?decided=approved`)).body, /You approved/);
    assert.doesNotMatch((await alice.get(`/admin/requests/${rejected}?decided=rejected`)).body, /You rejected/);
    assert.equal((await alice.get(`/admin/requests/${rejected}?decided=burned`)).statusCode, 400);
  });
});
