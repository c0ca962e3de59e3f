import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import type { Browser } from "../helpers/http.ts";
import { makeTestKey } from "../helpers/keys.ts";
import { AGREEMENT_PDF, submissionParts, submitRequest } from "../helpers/requests.ts";
import { createStaff, signInStaff } from "../helpers/staff.ts";

function versionOf(html: string): string {
  return /name="version" value="(\d+)"/.exec(html)?.[1] ?? "";
}

async function setQuorum(t: TestApp, approvals: number) {
  await t.app.db.setting.upsert({ where: { key: "approvalsRequired" }, create: { key: "approvalsRequired", value: String(approvals) }, update: { value: String(approvals) } });
}

describe("staff review", () => {
  let t: TestApp;
  let alice: Browser;
  let bob: Browser;

  before(async () => {
    t = await createTestApp();
    await createStaff(t, { email: "alice@keysign.example", roles: ["reviewer"] });
    await createStaff(t, { email: "bob@keysign.example", roles: ["reviewer", "admin"] });
    await createStaff(t, { email: "sam@keysign.example", roles: ["signing_officer"] });
    alice = await signInStaff(t, "alice@keysign.example");
    bob = await signInStaff(t, "bob@keysign.example");
  });
  after(async () => t.close());

  async function approve(browser: Browser, id: string, version?: string) {
    const page = await browser.get(`/admin/requests/${id}`);
    return browser.postForm(`/admin/requests/${id}/approve`, { version: version ?? versionOf(page.body) }, `/admin/requests/${id}`);
  }

  async function events(id: string, action: string) {
    return t.app.db.auditEvent.count({ where: { requestId: id, action } });
  }

  it("needs two distinct approvals by default, then queues the request and tells the applicant", async () => {
    const { id } = await submitRequest(t, "quorum@example.org");
    const first = await approve(alice, id);
    assert.equal(first.statusCode, 303);
    let request = await t.app.db.request.findUniqueOrThrow({ where: { id } });
    assert.equal(request.state, "in_review");
    const page = await alice.get(`/admin/requests/${id}`);
    assert.match(page.body, /Approvals of this revision: 1 of 2 required/);
    assert.match(page.body, /You approved this revision/);

    const twice = await approve(alice, id);
    assert.equal(twice.statusCode, 409);
    assert.match(twice.body, /already approved this version/);

    const second = await approve(bob, id);
    assert.equal(second.statusCode, 303);
    request = await t.app.db.request.findUniqueOrThrow({ where: { id } });
    assert.equal(request.state, "queued");
    assert.equal(await events(id, "request.approve"), 1);
    assert.equal(await events(id, "request.enqueue"), 1);
    const mail = await t.app.db.outboxEmail.findFirst({ where: { template: "request-approved", recipient: "quorum@example.org" } });
    assert.ok(mail);
  });

  it("refuses approval of a request the reviewer submitted", async () => {
    await createStaff(t, { email: "self@keysign.example", roles: ["reviewer"] });
    const { id } = await submitRequest(t, "self@keysign.example");
    const self = await signInStaff(t, "self@keysign.example");
    const response = await approve(self, id);
    assert.equal(response.statusCode, 403);
    assert.match(response.body, /cannot approve a request you submitted/);
    assert.equal(await t.app.db.approval.count({ where: { requestId: id } }), 0);
  });

  it("refuses an approval from a stale page with 409 and changes nothing", async () => {
    const { id } = await submitRequest(t, "stale@example.org");
    const version = versionOf((await alice.get(`/admin/requests/${id}`)).body);
    await approve(bob, id);
    const response = await approve(alice, id, version);
    assert.equal(response.statusCode, 409);
    assert.match(response.body, /changed after you loaded the page/);
    assert.equal(await t.app.db.approval.count({ where: { requestId: id } }), 1);
  });

  it("re-validates the key at approval time and blocks an expired key with the reason", async () => {
    // Valid when submitted (2026-11-24 12:00), expired an hour later.
    const key = await makeTestKey([{ name: "Exp", email: "expiring@example.org" }], { date: new Date("2026-11-23T13:00:00Z"), expiresInSeconds: 24 * 3600 });
    const { id } = await submitRequest(t, "expiring@example.org", "Exp", key);
    const page = await alice.get(`/admin/requests/${id}`);
    assert.match(page.body, /expires/i);
    const start = t.clock.now;
    t.clock.now = new Date("2026-11-24T14:00:00Z");
    try {
      const response = await alice.postForm(`/admin/requests/${id}/approve`, { version: versionOf(page.body) }, `/admin/requests/${id}`);
      assert.equal(response.statusCode, 409);
      assert.match(response.body, /This key cannot be approved any more/);
      assert.equal(await t.app.db.approval.count({ where: { requestId: id } }), 0);
    } finally {
      t.clock.now = start;
    }
  });

  it("turns 20 simultaneous approvals into exactly one transition, audit event and queue entry", async () => {
    await setQuorum(t, 1);
    try {
      const { id } = await submitRequest(t, "race@example.org");
      const version = versionOf((await alice.get(`/admin/requests/${id}`)).body);
      const reviewers = [alice, bob];
      const csrf = await Promise.all(reviewers.map((r) => r.csrfFrom(`/admin/requests/${id}`)));
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) => {
          const browser = reviewers[i % 2]!;
          return t.app.inject({
            method: "POST",
            url: `/admin/requests/${id}/approve`,
            headers: { "content-type": "application/x-www-form-urlencoded", cookie: `ks_session=${browser.cookie("ks_session")}; ks_csrf=${browser.cookie("ks_csrf")}` },
            payload: new URLSearchParams({ _csrf: csrf[i % 2]!, version }).toString(),
          });
        }),
      );
      const statuses = responses.map((r) => r.statusCode).sort();
      assert.equal(statuses.filter((s) => s === 303).length, 1, statuses.join(","));
      assert.equal(statuses.filter((s) => s === 409).length, 19);
      assert.equal(await events(id, "request.approve"), 1);
      assert.equal(await events(id, "request.enqueue"), 1);
      assert.equal(await t.app.db.approval.count({ where: { requestId: id } }), 1);
      assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "queued");
    } finally {
      await setQuorum(t, 2);
    }
  });

  it("needs a reason to reject, then rejects and emails the reason", async () => {
    const { id } = await submitRequest(t, "reject@example.org");
    const page = await alice.get(`/admin/requests/${id}`);
    const empty = await alice.postForm(`/admin/requests/${id}/reject`, { version: versionOf(page.body), reason: "  " }, `/admin/requests/${id}`);
    assert.equal(empty.statusCode, 400);
    assert.match(empty.body, /Give the reason for the rejection/);
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "submitted");
    const response = await alice.postForm(`/admin/requests/${id}/reject`, { version: versionOf(page.body), reason: "Commercial <module> detected" }, `/admin/requests/${id}`);
    assert.equal(response.statusCode, 303);
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "rejected");
    const mail = await t.app.db.outboxEmail.findFirstOrThrow({ where: { template: "request-rejected", recipient: "reject@example.org" } });
    assert.match(mail.text, /Commercial <module> detected/);
    assert.match(mail.html, /Commercial &lt;module&gt; detected/);
    assert.equal(mail.subject, "Your certification request was rejected");
  });

  it("asks for changes; the applicant's answer returns the request to review and needs fresh approvals", async () => {
    const { id, key, applicant } = await submitRequest(t, "changes@example.org");
    await approve(alice, id);
    const page = await bob.get(`/admin/requests/${id}`);
    const asked = await bob.postForm(`/admin/requests/${id}/request-changes`, { version: versionOf(page.body), reason: "Please sign page 2." }, `/admin/requests/${id}`);
    assert.equal(asked.statusCode, 303);
    assert.ok(await t.app.db.outboxEmail.findFirst({ where: { template: "changes-requested", recipient: "changes@example.org" } }));
    const mine = await applicant.get(`/requests/${id}`);
    assert.match(mine.body, /Please sign page 2./);
    const revised = Buffer.concat([AGREEMENT_PDF, Buffer.from("% page 2 signed\n%%EOF\n")]);
    const parts = [{ name: "version", value: versionOf(mine.body) }, ...(await submissionParts(key, "Dev <changes@example.org>", revised))];
    const answer = await applicant.postMultipart(`/requests/${id}/revise`, parts, `/requests/${id}/revise`);
    assert.equal(answer.statusCode, 303);
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "in_review");
    const review = await alice.get(`/admin/requests/${id}`);
    assert.match(review.body, /Approvals of this revision: 0 of 2 required/);
    assert.match(review.body, /Key \(revision 2\)/);
  });

  it("keeps internal notes from the applicant", async () => {
    const { id, applicant } = await submitRequest(t, "notes@example.org");
    const response = await alice.postForm(`/admin/requests/${id}/notes`, { body: "Checked the GitHub org: looks legit." }, `/admin/requests/${id}`);
    assert.equal(response.statusCode, 303);
    assert.match((await bob.get(`/admin/requests/${id}`)).body, /Checked the GitHub org: looks legit./);
    const mine = await applicant.get(`/requests/${id}`);
    assert.doesNotMatch(mine.body, /GitHub org/);
    assert.doesNotMatch(mine.body, /Internal note/i);
  });

  it("lists requests oldest waiting first, filters by state and finds by fingerprint, email or name", async () => {
    const { id, key } = await submitRequest(t, "findme@example.org", "Grace Hopper");
    const byFingerprint = await alice.get(`/admin/requests?q=${key.fingerprint.slice(-16)}`);
    assert.match(byFingerprint.body, new RegExp(id));
    assert.match(byFingerprint.body, /1 request\(s\)/);
    const tooShort = await alice.get(`/admin/requests?q=${key.fingerprint.slice(-15)}`);
    assert.doesNotMatch(tooShort.body, new RegExp(id));
    assert.match((await alice.get("/admin/requests?q=findme%40example.org")).body, new RegExp(id));
    assert.match((await alice.get("/admin/requests?q=Grace%20Hopper")).body, new RegExp(id));
    const queued = await alice.get("/admin/requests?state=queued");
    assert.doesNotMatch(queued.body, new RegExp(id));
    const bad = await alice.get("/admin/requests?state=nonsense");
    assert.equal(bad.statusCode, 400);
  });

  it("shows the dashboard with counts, the oldest waiting request and the work waiting for me", async () => {
    const page = await alice.get("/admin");
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /Oldest waiting request/);
    assert.match(page.body, /<span class="count">\d+<\/span><span class="state state-queued">/);
    assert.match(page.body, /Waiting for you/);
  });

  it("serves the agreement only as a download under a sandbox CSP, which the page's viewer fetches", async () => {
    const { id } = await submitRequest(t, "inline@example.org");
    const agreement = await t.app.db.agreement.findFirstOrThrow({ where: { requestId: id } });
    const url = `/admin/requests/${id}/agreements/${agreement.id}`;
    assert.match((await alice.get(`/admin/requests/${id}`)).body, new RegExp(`data-src="${url}"`));
    for (const asked of [url, `${url}?inline=1`]) {
      const response = await alice.get(asked);
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers["content-security-policy"]), /^sandbox/);
      assert.equal(response.headers["x-content-type-options"], "nosniff");
      assert.match(String(response.headers["content-disposition"]), /^attachment;/);
      assert.deepEqual(response.rawPayload, AGREEMENT_PDF);
    }
  });

  it("lets only reviewers decide", async () => {
    const { id } = await submitRequest(t, "roles@example.org");
    const officer = await signInStaff(t, "sam@keysign.example");
    // The page offers officers no decision form; a forged post with the current version is refused.
    const response = await approve(officer, id, String((await t.app.db.request.findUniqueOrThrow({ where: { id } })).version));
    assert.equal(response.statusCode, 403);
    assert.match(response.body, /needs the Reviewer role/);
  });
});

describe("review digest", () => {
  it("sends reviewers one summary for many new requests, and announces each request once", async () => {
    const t = await createTestApp();
    try {
      await createStaff(t, { email: "r1@keysign.example", roles: ["reviewer"] });
      await createStaff(t, { email: "r2@keysign.example", roles: ["reviewer", "admin"] });
      await createStaff(t, { email: "officer@keysign.example", roles: ["signing_officer"] });
      await createStaff(t, { email: "gone@keysign.example", roles: ["reviewer"], disabled: true });
      for (const n of [1, 2, 3]) await submitRequest(t, `storm${n}@example.org`);
      assert.equal(await t.app.review.sendDigest(), 2);
      const digests = await t.app.db.outboxEmail.findMany({ where: { template: "review-digest" }, orderBy: { recipient: "asc" } });
      assert.deepEqual(digests.map((d) => d.recipient), ["r1@keysign.example", "r2@keysign.example"]);
      assert.match(digests[0]!.text, /3 new certification request\(s\)/);
      assert.match(digests[0]!.text, /storm1@example.org[\s\S]*storm3@example.org/);
      assert.equal(await t.app.review.sendDigest(), 0);
      t.clock.now = new Date(t.clock.now.getTime() + 60_000);
      await submitRequest(t, "later@example.org");
      assert.equal(await t.app.review.sendDigest(), 2);
      const latest = await t.app.db.outboxEmail.findFirstOrThrow({ where: { template: "review-digest" }, orderBy: { createdAt: "desc" } });
      assert.match(latest.text, /1 new certification request/);
      assert.doesNotMatch(latest.text, /storm1/);
    } finally {
      await t.close();
    }
  });
});

describe("request list pages", () => {
  it("pages by 25, oldest waiting first, keeping the filter in the page links", async () => {
    const t = await createTestApp();
    try {
      await createStaff(t, { email: "pager@keysign.example", roles: ["reviewer"] });
      const ids: string[] = [];
      for (let i = 0; i < 27; i++) {
        t.clock.now = new Date(Date.UTC(2026, 10, 24, 12, i));
        ids.push((await submitRequest(t, `page${i}@example.org`)).id);
      }
      const staff = await signInStaff(t, "pager@keysign.example");
      const first = await staff.get("/admin/requests?state=submitted");
      assert.match(first.body, /27 request\(s\)/);
      assert.match(first.body, /Page 1 of 2/);
      assert.ok(first.body.indexOf(ids[0]!) < first.body.indexOf(ids[1]!), "oldest first");
      assert.doesNotMatch(first.body, new RegExp(ids[26]!));
      assert.match(first.body, /href="\/admin\/requests\?state&#x3D;submitted&amp;page&#x3D;2"/);
      const second = await staff.get("/admin/requests?state=submitted&page=2");
      assert.match(second.body, new RegExp(ids[26]!));
      assert.match(second.body, /Page 2 of 2/);
    } finally {
      await t.close();
    }
  });
});

describe("dashboard", () => {
  it("finds the oldest waiting request behind many older decided ones, and shows mail that failed", async () => {
    const t = await createTestApp();
    try {
      await createStaff(t, { email: "dash@keysign.example", roles: ["reviewer"] });
      const ids: string[] = [];
      for (let i = 0; i < 27; i++) ids.push((await submitRequest(t, `dash${i}@example.org`)).id);
      const waiting = ids[26]!;
      await t.app.db.request.updateMany({ where: { id: { in: ids.slice(0, 26) } }, data: { state: "rejected", updatedAt: new Date("2026-01-01T00:00:00Z") } });
      const failed = await t.app.db.outboxEmail.findFirstOrThrow();
      await t.app.db.outboxEmail.update({ where: { id: failed.id }, data: { status: "failed" } });
      const page = await (await signInStaff(t, "dash@keysign.example")).get("/admin");
      assert.match(page.body, new RegExp(`<h2>Oldest waiting request</h2>\\s*<p><a href="/admin/requests/${waiting}"`));
      assert.match(page.body, /1 email\(s\) could not be delivered after every retry/);
    } finally {
      await t.close();
    }
  });
});
