/**
 * The renew action and its settings through the real pages: who may renew what, the renewal
 * quorum, the reminder's link, and refusals that leave nothing behind.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest, revokeAsSoleReviewer, soleReviewer } from "../helpers/certified.ts";
import { AGREEMENT_PDF, submissionParts, submitRequest, traces } from "../helpers/requests.ts";
import { makeTestKey } from "../helpers/keys.ts";
import { signInAs } from "../helpers/session.ts";
import { createStaff, signInStaff } from "../helpers/staff.ts";
import { exportBatch, importResult, queuedRequest, signBatch, signingDesk } from "../helpers/signing-queue.ts";

const DAY_MS = 86_400_000;
const CONFIRM = [{ name: "confirm", value: "yes" }];

async function withApp(run: (t: TestApp) => Promise<void>): Promise<void> {
  const t = await createTestApp();
  try {
    await run(t);
  } finally {
    await t.close();
  }
}

async function certified(t: TestApp, address: string) {
  const submitted = await submitRequest(t, address);
  await certifyRequest(t, submitted.id);
  return submitted;
}

function renew(t: TestApp, address: string, id: string) {
  return signInAs(t, address).then((owner) => owner.postMultipart(`/requests/${id}/renew`, CONFIRM, `/requests/${id}/renew`));
}

describe("renewing a certification", () => {
  it("makes a linked request with the same key, user IDs and agreement; the reminder links straight to the action", () =>
    withApp(async (t) => {
      const { id } = await certified(t, "owner@example.org");
      t.clock.now = new Date(t.clock.now.getTime() + 700 * DAY_MS);
      await t.app.expiry.run();
      const reminder = await t.app.db.outboxEmail.findFirstOrThrow({ where: { template: "certification-expiring" } });
      assert.match(reminder.text, new RegExp(`/requests/${id}/renew\\b`));
      assert.match(reminder.html, new RegExp(`href="[^"]*/requests/${id}/renew"`));

      const response = await renew(t, "owner@example.org", id);
      assert.equal(response.statusCode, 303);
      const renewalId = String(response.headers.location).split("/").pop() ?? "";
      const [old, renewal] = await Promise.all(
        [id, renewalId].map((requestId) => t.app.db.request.findUniqueOrThrow({ where: { id: requestId }, include: { keys: true, agreements: true } })),
      );
      assert.equal(renewal?.renewsRequestId, id);
      assert.equal(renewal?.keys[0]?.fingerprint, old?.keys[0]?.fingerprint);
      assert.equal(renewal?.keys[0]?.certifyUserIds, old?.keys[0]?.certifyUserIds);
      assert.equal(renewal?.agreements[0]?.sha256, old?.agreements[0]?.sha256);
      assert.notEqual(renewal?.agreements[0]?.storageName, old?.agreements[0]?.storageName, "each request owns its copy of the file");
      const owner = await signInAs(t, "owner@example.org");
      const page = await owner.get(`/requests/${renewalId}`);
      assert.match(page.body, new RegExp(`renews the certification of <a href="/requests/${id}">`));
      assert.match((await owner.get(`/requests/${id}`)).body, new RegExp(`A renewal of this certification is under way .*href="/requests/${renewalId}"`));
    }));

  it("needs the renewal quorum (default one), not the usual one", () =>
    withApp(async (t) => {
      await createStaff(t, { email: "rita@keysign.example", roles: ["reviewer"] });
      await t.app.db.setting.create({ data: { key: "approvalsRequired", value: "3" } });
      const { id } = await certified(t, "quorum@example.org");
      const renewalId = String((await renew(t, "quorum@example.org", id)).headers.location).split("/").pop() ?? "";
      const reviewer = await signInStaff(t, "rita@keysign.example");
      const page = await reviewer.get(`/admin/requests/${renewalId}`);
      assert.match(page.body, /Approvals of this revision: 0 of 1 required/);
      // The list measures the renewal against the same quorum.
      const list = await reviewer.get("/admin/requests?state=");
      assert.match(list.body, /<span class="approvals">0 of 1<\/span>/);
      const version = /name="version" value="(\d+)"/.exec(page.body)?.[1] ?? "";
      assert.equal((await reviewer.postForm(`/admin/requests/${renewalId}/approve`, { version }, `/admin/requests/${renewalId}`)).statusCode, 303);
      assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: renewalId } })).state, "queued");
    }));

  it("keeps a renewal to what it renews: a revision with another key or a new user ID is refused, so the renewal quorum never certifies anything new", () =>
    withApp(async (t) => {
      await createStaff(t, { email: "rita@keysign.example", roles: ["reviewer"] });
      const address = "sneaky@example.org";
      const { id } = await certified(t, address);
      const renewalId = String((await renew(t, address, id)).headers.location).split("/").pop() ?? "";
      const rita = await signInStaff(t, "rita@keysign.example");
      const page = `/admin/requests/${renewalId}`;
      const version = async (browser: { get(url: string): Promise<{ body: string }> }, url: string) => /name="version" value="(\d+)"/.exec((await browser.get(url)).body)?.[1] ?? "";
      assert.equal((await rita.postForm(`${page}/request-changes`, { version: await version(rita, page), reason: "Please sign the agreement again." }, page)).statusCode, 303);
      const owner = await signInAs(t, address);
      const revise = `/requests/${renewalId}/revise`;
      const before = await t.app.db.requestKey.count({ where: { requestId: renewalId } });
      const otherKey = await makeTestKey([{ name: "Dev", email: address }]);
      const sent = await owner.postMultipart(revise, [{ name: "version", value: await version(owner, revise) }, ...(await submissionParts(otherKey, `Dev <${address}>`))], revise);
      assert.equal(sent.statusCode, 409, sent.body.slice(0, 500));
      assert.match(sent.body, /A renewal keeps the key it renews/);
      assert.equal(await t.app.db.requestKey.count({ where: { requestId: renewalId } }), before, "no revision stored");
      assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: renewalId } })).state, "changes_requested");
    }));

  it("refuses a revoked certification, and one that lapsed more than 90 days ago, leaving nothing behind", () =>
    withApp(async (t) => {
      await soleReviewer(t);
      const revoked = await certified(t, "revoked@example.org");
      assert.equal((await revokeAsSoleReviewer(t, revoked.id, "other", "The developer asked for it")).statusCode, 303);
      const lapsed = await certified(t, "lapsed@example.org");
      t.clock.now = new Date(t.clock.now.getTime() + (730 + 91) * DAY_MS);
      const before = await traces(t);
      const first = await renew(t, "revoked@example.org", revoked.id);
      assert.equal(first.statusCode, 409);
      assert.match(first.body, /was revoked, so it cannot be renewed/);
      const second = await renew(t, "lapsed@example.org", lapsed.id);
      assert.equal(second.statusCode, 409);
      assert.match(second.body, /more than 90 days ago/);
      const after = await traces(t);
      assert.deepEqual({ ...after, emails: 0, linkTokens: 0, events: 0 }, { ...before, emails: 0, linkTokens: 0, events: 0 });
      assert.equal(await t.app.db.request.count({ where: { renewsRequestId: { not: null } } }), 0);
      assert.equal(await t.app.db.auditEvent.count({ where: { action: { startsWith: "request.renew" } } }), 0);
    }));

  it("renews within 90 days after the expiry, and shows nothing of another owner's request", () =>
    withApp(async (t) => {
      const { id } = await certified(t, "late@example.org");
      t.clock.now = new Date(t.clock.now.getTime() + (730 + 80) * DAY_MS);
      const stranger = await signInAs(t, "stranger@example.org");
      assert.equal((await stranger.get(`/requests/${id}/renew`)).statusCode, 404);
      assert.equal((await stranger.postMultipart(`/requests/${id}/renew`, CONFIRM, `/requests/${id}/renew`)).statusCode, 404);
      assert.equal((await renew(t, "late@example.org", id)).statusCode, 303);
    }));

  it("validates the renewal quorum and never lowers the agreement version", () =>
    withApp(async (t) => {
      await createStaff(t, { email: "ada@keysign.example", roles: ["admin"] });
      const admin = await signInStaff(t, "ada@keysign.example");
      const page = await admin.get("/admin/settings");
      assert.match(page.body, /Approvals required for a renewal/);
      assert.match(page.body, /SHA-256 <code class="hash">[0-9a-f]{64}<\/code>/);
      const bad = await admin.postForm("/admin/settings/renewal", { renewalApprovalsRequired: "0", agreementVersion: "1" }, "/admin/settings");
      assert.equal(bad.statusCode, 400);
      assert.match(bad.body, /Approvals required for a renewal must be a whole number from 1 to 5/);
      assert.equal(await t.app.db.setting.count({ where: { key: "renewalApprovalsRequired" } }), 0);
      assert.equal((await admin.postForm("/admin/settings/renewal", { renewalApprovalsRequired: "2", agreementVersion: "2" }, "/admin/settings")).statusCode, 303);
      const settings = await t.app.settings.read();
      assert.equal(settings.renewalApprovalsRequired, 2);
      assert.equal(settings.agreementVersion, 2);
      const lower = await admin.postForm("/admin/settings/renewal", { renewalApprovalsRequired: "2", agreementVersion: "1" }, "/admin/settings");
      assert.equal(lower.statusCode, 400);
      assert.match(lower.body, /from 2 \(the current one\)/);
      assert.equal((await t.app.settings.read()).agreementVersion, 2);
    }));

  it("records the agreement version each request signed; a newer version makes the owner sign it first, the same version does not", () =>
    withApp(async (t) => {
      const { id, key } = await certified(t, "versions@example.org");
      const current = await certified(t, "current@example.org");
      assert.equal((await t.app.db.agreement.findFirstOrThrow({ where: { requestId: id } })).agreementVersion, 1);
      await t.app.db.setting.create({ data: { key: "agreementVersion", value: "2" } });
      // A request made now is signed under version 2, and renews without a new signature.
      const fresh = await submitRequest(t, "fresh@example.org");
      assert.equal((await t.app.db.agreement.findFirstOrThrow({ where: { requestId: fresh.id } })).agreementVersion, 2);
      await certifyRequest(t, fresh.id);
      const freshOwner = await signInAs(t, "fresh@example.org");
      assert.doesNotMatch((await freshOwner.get(`/requests/${fresh.id}/renew`)).body, /Sign the current agreement/);
      assert.equal((await renew(t, "fresh@example.org", fresh.id)).statusCode, 303);

      // Version 1 on file: the page asks for the current agreement, and the click alone is refused with nothing stored.
      const owner = await signInAs(t, "versions@example.org");
      const page = await owner.get(`/requests/${id}/renew`);
      assert.match(page.body, /Sign the current agreement/);
      assert.match(page.body, /you signed version 1; the current version is 2/);
      const before = await traces(t);
      const refused = await owner.postMultipart(`/requests/${id}/renew`, CONFIRM, `/requests/${id}/renew`);
      assert.equal(refused.statusCode, 400);
      assert.match(refused.body, /The agreement&#x27;s text changed since you signed it \(version 1; now version 2\)/);
      assert.match(refused.body, /Attach the detached signature of the agreement/);
      const wrongSigner = await owner.postMultipart(`/requests/${id}/renew`, [...CONFIRM, { name: "agreement", filename: "agreement.pdf", content: AGREEMENT_PDF }, { name: "signature", filename: "agreement.pdf.asc", content: Buffer.from(await current.key.sign(AGREEMENT_PDF)) }], `/requests/${id}/renew`);
      assert.equal(wrongSigner.statusCode, 400);
      assert.deepEqual({ ...(await traces(t)), linkTokens: 0 }, { ...before, linkTokens: 0 });

      const signedV2 = Buffer.concat([AGREEMENT_PDF, Buffer.from("\n% executed under version 2\n")]);
      const parts = [...CONFIRM, { name: "agreement", filename: "agreement-v2.pdf", content: signedV2 }, { name: "signature", filename: "agreement-v2.pdf.asc", content: Buffer.from(await key.sign(signedV2)) }];
      const renewed = await owner.postMultipart(`/requests/${id}/renew`, parts, `/requests/${id}/renew`);
      assert.equal(renewed.statusCode, 303, renewed.body.slice(0, 600));
      const renewalId = String(renewed.headers.location).split("/").pop() ?? "";
      const agreement = await t.app.db.agreement.findFirstOrThrow({ where: { requestId: renewalId } });
      assert.equal(agreement.agreementVersion, 2);
      assert.equal(agreement.fileName, "agreement-v2.pdf");
      assert.notEqual(agreement.sha256, (await t.app.db.agreement.findFirstOrThrow({ where: { requestId: id } })).sha256);
    }));

  it("revoking a renewed key also revokes the certification it superseded, so no older one keeps the key trusted", () =>
    withApp(async (t) => {
      const desk = await signingDesk(t);
      const { id, applicant } = await queuedRequest(desk, "chain@example.org");
      const first = await exportBatch(desk);
      assert.equal((await importResult(desk, await signBatch(first.file, desk.master))).statusCode, 200);
      const renewed = await applicant.postMultipart(`/requests/${id}/renew`, CONFIRM, `/requests/${id}/renew`);
      const renewalId = String(renewed.headers.location).split("/").pop() ?? "";
      const [rita, ravi] = desk.reviewers;
      const version = async (url: string) => /name="version" value="(\d+)"/.exec((await rita.get(url)).body)?.[1] ?? "";
      assert.equal((await rita.postForm(`/admin/requests/${renewalId}/approve`, { version: await version(`/admin/requests/${renewalId}`) }, `/admin/requests/${renewalId}`)).statusCode, 303);
      const second = await exportBatch(desk);
      assert.equal((await importResult(desk, await signBatch(second.file, desk.master))).statusCode, 200);
      const superseded = await t.app.db.certification.findFirstOrThrow({ where: { requestId: id } });
      assert.ok(superseded.supersededAt);
      assert.equal(superseded.revokedAt, null);

      const page = `/admin/requests/${renewalId}`;
      assert.equal((await rita.postForm(`${page}/revocations`, { version: await version(page), reasonCode: "key_compromised", reasonText: "" }, page)).statusCode, 303);
      const revocationId = /revocations\/([0-9a-f-]{36})\/approve/.exec((await ravi.get(page)).body)?.[1] ?? "";
      const raviVersion = /name="version" value="(\d+)"/.exec((await ravi.get(page)).body)?.[1] ?? "";
      assert.equal((await ravi.postForm(`${page}/revocations/${revocationId}/approve`, { version: raviVersion }, page)).statusCode, 303);
      assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: renewalId } })).state, "revoked");
      const old = await t.app.db.certification.findFirstOrThrow({ where: { requestId: id } });
      assert.ok(old.revokedAt, "the superseded certification is revoked too");
      assert.deepEqual(old.revocation, old.sealedRevocation);
      assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "revoked");
    }));

  it("says on the renew page, before the click, that an expired key must be extended first", () =>
    withApp(async (t) => {
      const key = await makeTestKey([{ name: "Dev", email: "expiring@example.org" }], { expiresInSeconds: 400 * 86_400 });
      const { id } = await submitRequest(t, "expiring@example.org", "Dev", key);
      await certifyRequest(t, id);
      t.clock.now = new Date(t.clock.now.getTime() + 400 * DAY_MS);
      const owner = await signInAs(t, "expiring@example.org");
      assert.match((await owner.get(`/requests/${id}`)).body, new RegExp(`href="/requests/${id}/renew"`));
      const page = await owner.get(`/requests/${id}/renew`);
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /no longer passes the portal&#x27;s checks/);
      assert.match(page.body, /send it to the portal/);
      assert.doesNotMatch(page.body, /name="confirm"/);
      assert.equal((await renew(t, "expiring@example.org", id)).statusCode, 409);
      assert.equal(await t.app.db.request.count({ where: { renewsRequestId: id } }), 0);
    }));
});
