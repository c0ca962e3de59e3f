import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { exportBatch, importResult, queuedRequest, signBatch, signingDesk, type SigningDesk } from "../helpers/signing-queue.ts";
import { submitRequest } from "../helpers/requests.ts";
import type { Browser } from "../helpers/http.ts";

async function versionOn(browser: Browser, url: string): Promise<string> {
  return /name="version" value="(\d+)"/.exec((await browser.get(url)).body)?.[1] ?? "";
}

describe("the applicant's status after a signer's decline", () => {
  let t: TestApp;
  let desk: SigningDesk;
  before(async () => {
    t = await createTestApp({ SIGNING_SCHEDULE: "on the first Monday of each month" });
    desk = await signingDesk(t);
  });
  after(async () => t.close());

  it("tells a new applicant when ceremonies happen, from the setting", async () => {
    const made = await submitRequest(t, "new@example.org");
    const confirmation = await made.applicant.get(`/requests/submitted/${made.id}`);
    assert.equal(confirmation.statusCode, 200);
    assert.match(confirmation.body, /Signing ceremonies are held on the first Monday of each month\./);
  });

  it("shows the tracker at the ceremony while the batch is out", async () => {
    const waiting = await queuedRequest(desk, "wait@example.org");
    const queued = await waiting.applicant.get(`/requests/${waiting.id}`);
    assert.match(queued.body, /tracker-current" aria-current="step">\s*<span class="tracker-name">Signing ceremony/);
    assert.match(queued.body, /Waiting for the next ceremony/);
    assert.match(queued.body, /signing ceremonies are held on the first Monday of each month/);
    const batch = await exportBatch(desk);
    const out = await waiting.applicant.get(`/requests/${waiting.id}`);
    assert.match(out.body, /At the ceremony now/);
    const certified = await importResult(desk, await signBatch(batch.file, desk.master));
    assert.equal(certified.statusCode, 200);
    const done = await waiting.applicant.get(`/requests/${waiting.id}`);
    assert.equal((done.body.match(/tracker-done/g) ?? []).length, 4);
    assert.match(done.body, /Download the certified key below/);
  });

  it("clears the approvals, tells the applicant why, and lets reviewers approve it again for the next batch", async () => {
    const declined = await queuedRequest(desk, "dee@example.org");
    const batch = await exportBatch(desk);
    const reason = "Agreement page 2 is unsigned";
    const response = await importResult(desk, await signBatch(batch.file, desk.master, { decline: new Map([[declined.id, reason]]) }));
    assert.equal(response.statusCode, 200, response.body.slice(0, 1500));
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: declined.id } })).state, "in_review");
    assert.equal(await t.app.db.approval.count({ where: { requestId: declined.id } }), 0, "the approvals that led to the refused signature no longer count");

    const email = await t.app.db.outboxEmail.findFirstOrThrow({ where: { template: "signer-declined", recipient: "dee@example.org" } });
    assert.ok(email.text.includes(reason) && email.html.includes(reason));
    assert.match(email.html, /<title>The signer returned your certification request<\/title>/);

    const page = await declined.applicant.get(`/requests/${declined.id}`);
    assert.match(page.body, /The signer returned this request at the signing ceremony/);
    assert.ok(page.body.includes(reason));
    assert.match(page.body, /0 of 2 approvals/);
    assert.doesNotMatch(page.body, /2 of 2 approvals/);

    const staffPage = `/admin/requests/${declined.id}`;
    const staffView = await desk.reviewers[0].get(staffPage);
    assert.match(staffView.body, /0 of 2 required/);
    assert.ok(staffView.body.includes(reason), "staff see the signer's reason");
    for (const reviewer of desk.reviewers) {
      const approved = await reviewer.postForm(`${staffPage}/approve`, { version: await versionOn(reviewer, staffPage) }, staffPage);
      assert.equal(approved.statusCode, 303, approved.body.slice(0, 500));
    }
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: declined.id } })).state, "queued");
    const again = await declined.applicant.get(`/requests/${declined.id}`);
    assert.doesNotMatch(again.body, /The signer returned this request/);
    assert.match(again.body, /Waiting for the next ceremony/);
  });

  it("shows a rejection with the reviewer's reason and a way to start again", async () => {
    const rejected = await submitRequest(t, "rej@example.org");
    const staffPage = `/admin/requests/${rejected.id}`;
    const [rita] = desk.reviewers;
    const response = await rita.postForm(`${staffPage}/reject`, { version: await versionOn(rita, staffPage), reason: "Not a FreePBX module" }, staffPage);
    assert.equal(response.statusCode, 303);
    const page = await rejected.applicant.get(`/requests/${rejected.id}`);
    assert.match(page.body, /Staff rejected this request/);
    assert.match(page.body, /Not a FreePBX module/);
    assert.match(page.body, /href="\/requests\/new">Start a new request/);
    assert.doesNotMatch(page.body, /class="tracker"/);
  });
});
